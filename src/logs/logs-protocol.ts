/**
 * The CloudWatch Logs subset (AWS JSON 1.1, `X-Amz-Target: Logs_20140328.<Op>`,
 * SigV4 service `logs`), so `aws logs ... --endpoint-url` and the SDK work:
 * CreateLogGroup, DescribeLogGroups, DeleteLogGroup, PutRetentionPolicy,
 * DeleteRetentionPolicy, CreateLogStream, DescribeLogStreams, DeleteLogStream,
 * PutLogEvents, GetLogEvents, FilterLogEvents (and with it `aws logs tail`).
 *
 * IAM actions are `logs:<Op>` on `arn:aws:logs:<region>:<account>:log-group:<name>:*`
 * (stream operations: `...:log-group:<name>:log-stream:<stream>`).
 * Errors as CloudWatch Logs: ResourceNotFoundException, ResourceAlreadyExistsException,
 * InvalidParameterException.
 */
import type { JsonProtocol } from '../api/http-server.ts';
import { ApiError, ErrorCode, invalidParameter } from '../api/errors.ts';
import { optBool, optInt, optObjectList, optString, optStringList } from '../api/input.ts';
import { FilterPatternError, parseFilterPattern } from './filter-pattern.ts';
import { eventBytes, type GroupRow, type LogStore, type StreamRow } from './log-store.ts';
import { filterLogEvents, getLogEvents } from './log-reads.ts';
import { TokenError, pageToken, parsePageToken } from './tokens.ts';

export const LOGS_TARGET_PREFIX = 'Logs_20140328';

/** The retention periods CloudWatch Logs accepts, in days. */
export const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const GROUP_NAME_RE = /^[.\-_/#A-Za-z0-9]{1,512}$/;
const STREAM_NAME_RE = /^[^:*]{1,512}$/;
const MAX_BATCH_BYTES = 1_048_576;
const MAX_EVENT_BYTES = 1_048_576 - 26;
const DAY_MS = 86_400_000;

/** Index of the last element satisfying `pred`, or -1. */
function lastIndexWhere<T>(xs: T[], pred: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (pred(xs[i])) return i;
  return -1;
}

type Input = Record<string, unknown>;
export interface LogsIds {
  region: string;
  account: string;
  now?: () => number;
}

export const groupArn = (ids: LogsIds, name: string) => `arn:aws:logs:${ids.region}:${ids.account}:log-group:${name}`;

const groupNotFound = () => new ApiError(ErrorCode.ResourceNotFoundException, 'The specified log group does not exist.');
const streamNotFound = () => new ApiError(ErrorCode.ResourceNotFoundException, 'The specified log stream does not exist.');

export function validateGroupName(name: string, field = 'logGroupName'): string {
  if (!GROUP_NAME_RE.test(name)) {
    throw invalidParameter(`${field} '${name.slice(0, 100)}' is not valid: use 1-512 characters from a-z, A-Z, 0-9, '_', '-', '/', '.' and '#'.`);
  }
  return name;
}

export function validateStreamName(name: string, field = 'logStreamName'): string {
  if (!STREAM_NAME_RE.test(name)) throw invalidParameter(`${field} '${name.slice(0, 100)}' is not valid: use 1-512 characters, none of them ':' or '*'.`);
  return name;
}

/** The group an operation names, by `logGroupName` or `logGroupIdentifier` (name or ARN), exactly one of them. */
function groupNameOf(input: Input, ids: LogsIds, opts: { identifier?: boolean } = {}): string {
  const name = optString(input, 'logGroupName');
  const ident = opts.identifier ? optString(input, 'logGroupIdentifier') : undefined;
  if (name !== undefined && ident !== undefined) throw invalidParameter('LogGroupName and LogGroupIdentifier are mutually exclusive: pass one of them.');
  if (ident !== undefined) {
    const m = /^arn:aws[a-z-]*:logs:([^:]*):([^:]*):log-group:([^:]+)(:\*)?$/.exec(ident);
    if (m && (m[1] !== ids.region || m[2] !== ids.account)) throw groupNotFound();
    return validateGroupName(m ? m[3] : ident, 'logGroupIdentifier');
  }
  if (name === undefined || name === '') throw invalidParameter(opts.identifier ? 'Pass logGroupName or logGroupIdentifier.' : 'logGroupName is required.');
  return validateGroupName(name);
}

function limitOf(input: Input, max: number, def: number): number {
  const v = optInt(input, 'limit');
  if (v === undefined) return def;
  if (v < 1 || v > max) throw invalidParameter(`1 validation error detected: Value '${v}' at 'limit' failed to satisfy constraint: Member must have value between 1 and ${max}.`);
  return v;
}

function timeOf(input: Input, field: string): number | undefined {
  const v = optInt(input, field);
  if (v !== undefined && v < 0) throw invalidParameter(`${field} must be epoch milliseconds, 0 or more (got ${v}).`);
  return v;
}

/** Token problems become InvalidParameterException. */
function tokens<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TokenError) throw invalidParameter(err.message);
    throw err;
  }
}

export function logsProtocol(store: LogStore, ids: LogsIds): JsonProtocol {
  const now = ids.now ?? Date.now;
  const arn = (name: string) => `${groupArn(ids, name)}:*`;

  const requireGroup = (name: string): GroupRow => store.group(name) ?? (() => { throw groupNotFound(); })();
  const requireStream = (g: GroupRow, name: string): StreamRow => store.stream(g.id, name) ?? (() => { throw streamNotFound(); })();

  const groupView = (g: GroupRow) => ({
    logGroupName: g.name,
    creationTime: g.createdAt,
    ...(g.retentionDays !== null ? { retentionInDays: g.retentionDays } : {}),
    metricFilterCount: 0,
    arn: arn(g.name),
    storedBytes: g.storedBytes,
    logGroupClass: 'STANDARD',
    logGroupArn: groupArn(ids, g.name),
  });

  const streamView = (g: GroupRow, s: StreamRow) => ({
    logStreamName: s.name,
    creationTime: s.createdAt,
    ...(s.firstEventTs !== null ? { firstEventTimestamp: s.firstEventTs } : {}),
    ...(s.lastEventTs !== null ? { lastEventTimestamp: s.lastEventTs } : {}),
    ...(s.lastIngestionAt !== null ? { lastIngestionTime: s.lastIngestionAt, uploadSequenceToken: String(s.lastIngestionAt) } : {}),
    arn: `${groupArn(ids, g.name)}:log-stream:${s.name}`,
    storedBytes: 0, // deprecated in CloudWatch Logs: always 0
  });

  return {
    targetPrefix: LOGS_TARGET_PREFIX,
    operations: {
      CreateLogGroup: (input) => {
        const name = groupNameOf(input, ids);
        if (input.tags !== undefined && input.tags !== null) throw invalidParameter('tags are not supported by Skiff\'s log groups yet: create the group without tags.');
        if (optString(input, 'kmsKeyId') !== undefined) throw invalidParameter('kmsKeyId is not supported by Skiff: log events are stored on the host unencrypted. Leave it out.');
        const cls = optString(input, 'logGroupClass');
        if (cls !== undefined && cls !== 'STANDARD' && cls !== 'INFREQUENT_ACCESS') throw invalidParameter(`logGroupClass must be STANDARD or INFREQUENT_ACCESS (got '${cls}').`);
        if (!store.createGroup(name, now())) throw new ApiError(ErrorCode.ResourceAlreadyExistsException, 'The specified log group already exists');
        return {};
      },

      DescribeLogGroups: (input) => {
        const prefix = optString(input, 'logGroupNamePrefix');
        const pattern = optString(input, 'logGroupNamePattern');
        if (prefix !== undefined && pattern !== undefined) throw invalidParameter('LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive: pass one of them.');
        if (prefix) validateGroupName(prefix, 'logGroupNamePrefix');
        const limit = limitOf(input, 50, 50);
        const token = optString(input, 'nextToken');
        const after = token !== undefined ? tokens(() => parsePageToken(token, (v): v is string => typeof v === 'string')) : undefined;
        const rows = store.listGroups({ prefix, substring: pattern, afterName: after, limit: limit + 1 });
        const page = rows.slice(0, limit);
        return { logGroups: page.map(groupView), ...(rows.length > limit ? { nextToken: pageToken(page[page.length - 1].name) } : {}) };
      },

      DeleteLogGroup: (input) => {
        if (!store.deleteGroup(groupNameOf(input, ids))) throw groupNotFound();
        return {};
      },

      PutRetentionPolicy: (input) => {
        const name = groupNameOf(input, ids);
        const days = optInt(input, 'retentionInDays');
        if (days === undefined) throw invalidParameter('retentionInDays is required.');
        if (!(RETENTION_DAYS as readonly number[]).includes(days)) {
          throw invalidParameter(`1 validation error detected: Value '${days}' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [${RETENTION_DAYS.join(', ')}]`);
        }
        if (!store.setRetention(name, days)) throw groupNotFound();
        return {};
      },

      DeleteRetentionPolicy: (input) => {
        if (!store.setRetention(groupNameOf(input, ids), null)) throw groupNotFound();
        return {};
      },

      CreateLogStream: (input) => {
        const g = requireGroup(groupNameOf(input, ids));
        const name = validateStreamName(optString(input, 'logStreamName') ?? '');
        if (!store.createStream(g.id, name, now())) throw new ApiError(ErrorCode.ResourceAlreadyExistsException, 'The specified log stream already exists');
        return {};
      },

      DeleteLogStream: (input) => {
        const g = requireGroup(groupNameOf(input, ids));
        if (!store.deleteStream(g.id, validateStreamName(optString(input, 'logStreamName') ?? ''))) throw streamNotFound();
        return {};
      },

      DescribeLogStreams: (input) => {
        const g = requireGroup(groupNameOf(input, ids, { identifier: true }));
        const prefix = optString(input, 'logStreamNamePrefix');
        const orderBy = optString(input, 'orderBy') ?? 'LogStreamName';
        if (orderBy !== 'LogStreamName' && orderBy !== 'LastEventTime') throw invalidParameter(`orderBy must be LogStreamName or LastEventTime (got '${orderBy}').`);
        if (orderBy === 'LastEventTime' && prefix !== undefined) throw invalidParameter('Cannot order by LastEventTime with a logStreamNamePrefix.');
        const descending = optBool(input, 'descending') === true;
        const limit = limitOf(input, 50, 50);
        const token = optString(input, 'nextToken');
        type After = { name: string; lastEventTs?: number | null };
        const after = token !== undefined
          ? tokens(() => parsePageToken(token, (v): v is After => typeof v === 'object' && v !== null && typeof (v as After).name === 'string'))
          : undefined;
        const rows = store.listStreams(g.id, { prefix, orderBy, descending, after, limit: limit + 1 });
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return {
          logStreams: page.map((s) => streamView(g, s)),
          ...(rows.length > limit ? { nextToken: pageToken({ name: last.name, lastEventTs: last.lastEventTs }) } : {}),
        };
      },

      PutLogEvents: (input) => {
        const g = requireGroup(groupNameOf(input, ids));
        const s = requireStream(g, validateStreamName(optString(input, 'logStreamName') ?? ''));
        const raw = optObjectList(input, 'logEvents');
        if (!raw || raw.length === 0) throw invalidParameter('logEvents must have at least one event {"timestamp": <epoch ms>, "message": "..."}.');
        if (raw.length > 10_000) throw invalidParameter(`logEvents can have at most 10000 events (got ${raw.length}).`);
        let batchBytes = 0;
        const events = raw.map((e, i) => {
          const ts = e.timestamp;
          const message = e.message;
          if (typeof ts !== 'number' || !Number.isInteger(ts) || ts < 0) throw invalidParameter(`logEvents[${i}].timestamp must be epoch milliseconds.`);
          if (typeof message !== 'string' || message.length === 0) throw invalidParameter(`logEvents[${i}].message must be a non-empty string.`);
          const bytes = eventBytes(message);
          if (bytes - 26 > MAX_EVENT_BYTES) throw invalidParameter(`logEvents[${i}].message is larger than ${MAX_EVENT_BYTES} bytes.`);
          batchBytes += bytes;
          return { ts, message };
        });
        if (batchBytes > MAX_BATCH_BYTES) throw invalidParameter(`The batch of log events is ${batchBytes} bytes (messages + 26 bytes each); the limit is ${MAX_BATCH_BYTES}.`);
        for (let i = 1; i < events.length; i++) {
          if (events[i].ts < events[i - 1].ts) throw invalidParameter('Log events in a single PutLogEvents request must be in chronological order.');
        }
        if (events[events.length - 1].ts - events[0].ts > DAY_MS) throw invalidParameter('The batch of log events in a single PutLogEvents request cannot span more than 24 hours.');
        const t = now();
        // Sorted: the too-old and expired events are a prefix, the too-new a suffix.
        const tooOldEnd = lastIndexWhere(events, (e) => e.ts < t - 14 * DAY_MS);
        const expiredEnd = g.retentionDays !== null ? lastIndexWhere(events, (e) => e.ts < t - g.retentionDays! * DAY_MS) : -1;
        const tooNewStart = events.findIndex((e) => e.ts > t + 2 * 3_600_000);
        const from = Math.max(tooOldEnd, expiredEnd) + 1;
        const to = tooNewStart >= 0 ? tooNewStart : events.length;
        store.transaction(() => store.append(s, events.slice(from, Math.max(from, to)), t));
        const rejected = {
          ...(tooNewStart >= 0 ? { tooNewLogEventStartIndex: tooNewStart } : {}),
          ...(tooOldEnd >= 0 ? { tooOldLogEventEndIndex: tooOldEnd } : {}),
          ...(expiredEnd >= 0 ? { expiredLogEventEndIndex: expiredEnd } : {}),
        };
        return { nextSequenceToken: String(t), ...(Object.keys(rejected).length ? { rejectedLogEventsInfo: rejected } : {}) };
      },

      GetLogEvents: (input) => {
        const g = requireGroup(groupNameOf(input, ids, { identifier: true }));
        const s = requireStream(g, validateStreamName(optString(input, 'logStreamName') ?? ''));
        const token = optString(input, 'nextToken');
        return tokens(() =>
          getLogEvents(store, s, {
            token: token === '' ? undefined : token,
            startFromHead: optBool(input, 'startFromHead') === true,
            startTime: timeOf(input, 'startTime'),
            endTime: timeOf(input, 'endTime'),
            limit: limitOf(input, 10_000, 10_000),
          }),
        );
      },

      FilterLogEvents: (input) => {
        const g = requireGroup(groupNameOf(input, ids, { identifier: true }));
        const names = optStringList(input, 'logStreamNames', { max: 100 });
        const prefix = optString(input, 'logStreamNamePrefix');
        if (names !== undefined && prefix !== undefined) throw invalidParameter('You cannot specify both LogStreamNames and LogStreamNamePrefix.');
        if (names !== undefined && names.length === 0) throw invalidParameter('logStreamNames must name at least one stream.');
        let streamIds: number[] | undefined;
        if (names !== undefined) {
          const found = store.streamsNamed(g.id, names.map((n) => validateStreamName(n, 'logStreamNames')));
          if (found.length === 0) throw streamNotFound();
          streamIds = found.map((s) => s.id);
        } else if (prefix !== undefined) {
          streamIds = store.streamsWithPrefix(g.id, prefix).map((s) => s.id);
        }
        if (optBool(input, 'unmask') === true) throw invalidParameter('unmask is not supported: Skiff has no data protection policies.');
        let pattern;
        try {
          pattern = parseFilterPattern(optString(input, 'filterPattern') ?? '');
        } catch (err) {
          if (err instanceof FilterPatternError) throw invalidParameter(err.message);
          throw err;
        }
        const startTime = timeOf(input, 'startTime');
        const endTime = timeOf(input, 'endTime');
        if (startTime !== undefined && endTime !== undefined && endTime < startTime) throw invalidParameter('endTime must not be before startTime.');
        const token = optString(input, 'nextToken');
        const r = tokens(() => filterLogEvents(store, g.id, { streamIds, startTime, endTime, pattern, limit: limitOf(input, 10_000, 10_000), token }));
        return { events: r.events, searchedLogStreams: [], ...(r.nextToken ? { nextToken: r.nextToken } : {}) };
      },
    },
  };
}

/** The resources an operation touches, for the policy check. */
export function logResources(operation: string, input: Record<string, unknown>, ids: LogsIds): string[] {
  const ident = typeof input.logGroupIdentifier === 'string' ? input.logGroupIdentifier.replace(/^arn:[^:]*:logs:[^:]*:[^:]*:log-group:/, '').replace(/:\*$/, '') : undefined;
  const name = typeof input.logGroupName === 'string' ? input.logGroupName : ident;
  if (operation === 'DescribeLogGroups' || name === undefined) return [`arn:aws:logs:${ids.region}:${ids.account}:log-group:*`];
  const stream = typeof input.logStreamName === 'string' ? input.logStreamName : undefined;
  if (stream !== undefined && ['CreateLogStream', 'DeleteLogStream', 'PutLogEvents', 'GetLogEvents'].includes(operation)) {
    return [`${groupArn(ids, name)}:log-stream:${stream}`];
  }
  return [`${groupArn(ids, name)}:*`];
}
