/**
 * GetLogEvents and FilterLogEvents over the store, as pure paging rules (no
 * HTTP): unit-tested against an in-memory store.
 *
 * GetLogEvents, as AWS documents it:
 *   - without a token, startFromHead=false (the default) gives the newest `limit`
 *     events, startFromHead=true the oldest; events are always in ascending order;
 *   - nextForwardToken continues after the last event returned; when nothing new
 *     has arrived the response has no events and the same nextForwardToken as the
 *     request (that is how a follower knows it is at the end);
 *   - nextBackwardToken pages towards the start; at the start it comes back unchanged;
 *   - startTime is inclusive, endTime exclusive; at most 1 MB of events.
 *
 * FilterLogEvents scans the group in (timestamp, id) order, at most
 * FILTER_SCAN_BUDGET events per call: if the budget runs out before `limit`
 * events matched, the response carries what matched so far and a nextToken (as
 * AWS does for long searches), possibly with no events.
 */
import { matchesEverything, matchesFilter, type FilterPattern } from './filter-pattern.ts';
import { END_KEY, START_KEY, eventBytes, type Key, type LogStore, type StreamRow } from './log-store.ts';
import { isKey, pageToken, parsePageToken, parseStreamToken, streamToken } from './tokens.ts';

export const MAX_RESPONSE_BYTES = 1_048_576;
export const FILTER_SCAN_BUDGET = 50_000;

export interface GetLogEventsQuery {
  token?: string;
  startFromHead?: boolean;
  startTime?: number;
  endTime?: number;
  limit: number;
}

export interface GetLogEventsResult {
  events: { timestamp: number; message: string; ingestionTime: number }[];
  nextForwardToken: string;
  nextBackwardToken: string;
}

export function getLogEvents(store: LogStore, stream: StreamRow, q: GetLogEventsQuery): GetLogEventsResult {
  const range = { startTime: q.startTime, endTime: q.endTime, limit: q.limit, maxBytes: MAX_RESPONSE_BYTES };
  const f = (k: Key) => streamToken('f', stream.id, k);
  const b = (k: Key) => streamToken('b', stream.id, k);
  let rows;
  let empty: { forward: string; backward: string };
  if (q.token !== undefined) {
    const t = parseStreamToken(q.token, stream.id);
    if (t.direction === 'f') {
      rows = store.readStream(stream.id, { ...range, after: t.key });
      // Nothing after the position: the same forward token; backward covers everything up to it.
      empty = { forward: q.token, backward: b({ ts: t.key.ts, id: t.key.id + 1 }) };
    } else {
      rows = store.readStream(stream.id, { ...range, before: t.key });
      empty = { forward: f({ ts: t.key.ts, id: t.key.id - 1 }), backward: q.token };
    }
  } else {
    rows = q.startFromHead ? store.readStream(stream.id, { ...range, after: START_KEY }) : store.readStream(stream.id, { ...range, before: END_KEY });
    empty = { forward: f(START_KEY), backward: b(START_KEY) };
  }
  if (rows.length === 0) return { events: [], nextForwardToken: empty.forward, nextBackwardToken: empty.backward };
  const first = rows[0];
  const last = rows[rows.length - 1];
  return {
    events: rows.map((r) => ({ timestamp: r.ts, message: r.message, ingestionTime: r.ingestedAt })),
    nextForwardToken: f(last),
    nextBackwardToken: b(first),
  };
}

export interface FilterQuery {
  /** Only these streams (undefined: every stream of the group). */
  streamIds?: number[];
  startTime?: number;
  endTime?: number;
  pattern: FilterPattern;
  limit: number;
  token?: string;
}

export interface FilteredEvent {
  logStreamName: string;
  timestamp: number;
  message: string;
  ingestionTime: number;
  eventId: string;
}

export function filterLogEvents(store: LogStore, groupId: number, q: FilterQuery, scanBudget = FILTER_SCAN_BUDGET): { events: FilteredEvent[]; nextToken?: string } {
  let after = q.token !== undefined ? parsePageToken(q.token, isKey) : START_KEY;
  const matched: { row: { id: number; streamId: number; ts: number; ingestedAt: number; message: string } }[] = [];
  const all = matchesEverything(q.pattern);
  let scanned = 0;
  let bytes = 0;
  let exhausted = false;
  outer: for (;;) {
    const batch = store.scanGroup(groupId, { after, startTime: q.startTime, endTime: q.endTime, streamIds: q.streamIds, limit: Math.min(1000, scanBudget) });
    for (const r of batch) {
      scanned++;
      if (all || matchesFilter(q.pattern, r.message)) {
        bytes += eventBytes(r.message);
        if (matched.length > 0 && bytes > MAX_RESPONSE_BYTES) break outer; // `after` stays before this event
        matched.push({ row: r });
      }
      after = { ts: r.ts, id: r.id };
      if (matched.length >= q.limit) break outer;
    }
    if (batch.length < Math.min(1000, scanBudget)) {
      exhausted = true;
      break;
    }
    if (scanned >= scanBudget) break;
  }
  const names = store.streamNames([...new Set(matched.map((m) => m.row.streamId))]);
  return {
    events: matched.map(({ row }) => ({
      logStreamName: names.get(row.streamId) ?? '',
      timestamp: row.ts,
      message: row.message,
      ingestionTime: row.ingestedAt,
      eventId: String(row.id),
    })),
    ...(exhausted ? {} : { nextToken: pageToken(after) }),
  };
}
