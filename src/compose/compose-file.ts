/**
 * Reads a Compose file (the Compose Specification subset Skiff maps onto ECS)
 * into a typed, validated project. Pure apart from the injected file reader and
 * environment, so it is tested without a server.
 *
 * Contract:
 * - every key Skiff does not map is reported as a warning with its full path
 *   (`services.web.volumes`), never silently dropped; `x-*` extension keys are
 *   the user's own and are skipped, as the spec allows;
 * - every problem that stops the mapping is collected and thrown together as
 *   one ComposeError;
 * - `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$VAR` and `$$` are
 *   interpolated from the environment, as `docker compose` does.
 */
import { readFileSync } from 'node:fs';
import { dirname, basename, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readServiceMounts, readTopVolumes, type ComposeMount } from './volumes.ts';
import { interpolateString, parseBytes, parseDuration, parseEnvFile, parsePort, shellWords, type ComposePort } from './values.ts';

export type { ComposePort } from './values.ts';

export class ComposeError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `the Compose file has ${problems.length} problems:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ComposeError';
  }
}

export type DependsCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ComposeHealthcheck {
  /** ECS form: ["CMD", ...] or ["CMD-SHELL", "..."]. */
  test: string[];
  /** Seconds (fractions kept; rounding and ECS ranges are the mapper's job). */
  interval?: number;
  timeout?: number;
  retries?: number;
  startPeriod?: number;
}

export interface ComposeResources {
  /** vCPUs (0.5 = half a CPU). */
  cpus?: number;
  /** Bytes. */
  memory?: number;
}

export interface ComposeService {
  name: string;
  image: string;
  command?: string[];
  entrypoint?: string[];
  /** env_file entries first, then `environment` (which wins), in file order. */
  environment: [string, string][];
  ports: ComposePort[];
  /** `expose`: ports reachable by other tasks only. */
  expose: number[];
  healthcheck?: ComposeHealthcheck;
  dependsOn: { service: string; condition: DependsCondition }[];
  replicas?: number;
  limits: ComposeResources;
  reservations: ComposeResources;
  /** Secrets the service uses: `source` names a top-level secret, `target` the name inside the container. */
  secrets: { source: string; target: string }[];
  workingDir?: string;
  user?: string;
  /** Seconds. */
  stopGracePeriod?: number;
  init?: boolean;
  readOnly?: boolean;
  /** Named volumes and bind-mounted folders (each an EFS file system: compose/volumes.ts). */
  mounts: ComposeMount[];
}

export interface ComposeSecret {
  name: string;
  /** The value, read from `file` or from the environment variable `environment`. */
  value: string;
  from: string;
}

export interface ComposeProject {
  name: string;
  services: ComposeService[];
  secrets: ComposeSecret[];
  /** Top-level named volumes. */
  volumes: string[];
  /** One line per ignored key path: `services.web.volumes is not supported by Skiff and was ignored`. */
  warnings: string[];
}

export interface ReadOptions {
  /** Path of the Compose file (relative paths in it are relative to its folder). */
  file: string;
  /** Project name (`-p`); else the file's `name:`, else the folder's name. */
  projectName?: string;
  env?: Record<string, string | undefined>;
  readFile?: (path: string) => string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys Skiff maps, per level; anything else is reported. */
const TOP_LEVEL = new Set(['name', 'services', 'secrets', 'version', 'volumes']);
const SERVICE_KEYS = new Set([
  'image', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'healthcheck', 'depends_on', 'deploy',
  'secrets', 'working_dir', 'user', 'stop_grace_period', 'init', 'read_only', 'cpus', 'mem_limit', 'mem_reservation', 'volumes',
]);
const DEPLOY_KEYS = new Set(['replicas', 'resources']);
const RESOURCES_KEYS = new Set(['limits', 'reservations']);
const RESOURCE_KEYS = new Set(['cpus', 'memory']);
const HEALTHCHECK_KEYS = new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'disable']);
const DEPENDS_KEYS = new Set(['condition', 'required']);
const PORT_KEYS = new Set(['target', 'published', 'protocol', 'host_ip']);
const SECRET_KEYS = new Set(['file', 'environment', 'name']);
const SERVICE_SECRET_KEYS = new Set(['source', 'target']);
const CONDITIONS = new Set<DependsCondition>(['service_started', 'service_healthy', 'service_completed_successfully']);
/** Service names become ECS service names and DNS labels. */
const SERVICE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Reads and checks a Compose file. Throws ComposeError listing every problem. */
export function readComposeFile(opts: ReadOptions): ComposeProject {
  const readFile = opts.readFile ?? defaultReadFile;
  let text: string;
  try {
    text = readFile(opts.file);
  } catch (e) {
    throw new ComposeError([`cannot read the Compose file ${opts.file}: ${(e as Error).message}`]);
  }
  return parseCompose(text, opts);
}

const defaultReadFile = (path: string): string => readFileSync(path, 'utf8');

/** Parses Compose YAML text (see readComposeFile). */
export function parseCompose(text: string, opts: ReadOptions): ComposeProject {
  const env = opts.env ?? process.env;
  const readFile = opts.readFile ?? defaultReadFile;
  const baseDir = dirname(resolve(opts.file));
  const problems: string[] = [];
  const warnings: string[] = [];
  const unsupported = (path: string) => warnings.push(`${path} is not supported by Skiff and was ignored`);
  const checkKeys = (o: Obj, allowed: Set<string>, path: string) => {
    for (const k of Object.keys(o)) if (!allowed.has(k) && !k.startsWith('x-')) unsupported(`${path}.${k}`);
  };

  let doc: unknown;
  try {
    doc = parseYaml(text, { merge: true }); // `<<: *anchor` merge keys, common in Compose files
  } catch (e) {
    throw new ComposeError([`${opts.file} is not valid YAML: ${(e as Error).message}`]);
  }
  if (!isObj(doc)) throw new ComposeError([`${opts.file} must hold a YAML mapping with a "services" key`]);
  const root = interpolate(doc, env, problems, '') as Obj;
  for (const k of Object.keys(root)) if (!TOP_LEVEL.has(k) && !k.startsWith('x-')) unsupported(k);
  if (root.version !== undefined) warnings.push('version is obsolete in the Compose Specification and was ignored');

  const rawName = opts.projectName ?? (typeof root.name === 'string' ? root.name : basename(baseDir));
  const name = normaliseProjectName(rawName);
  if (!name) problems.push(`project name ${JSON.stringify(rawName)} has no letters or digits: set "name:" in the file or pass --project-name`);

  // Top-level secrets.
  const secrets: ComposeSecret[] = [];
  if (root.secrets !== undefined) {
    if (!isObj(root.secrets)) problems.push('secrets must be a mapping of secret name → {file: PATH} or {environment: VAR}');
    else {
      for (const [sname, def] of Object.entries(root.secrets)) {
        const path = `secrets.${sname}`;
        if (!isObj(def)) {
          problems.push(`${path} must be a mapping with "file" or "environment"`);
          continue;
        }
        checkKeys(def, SECRET_KEYS, path);
        if (def.external !== undefined) {
          problems.push(`${path}.external: external secrets are not supported; give the value with "file" or "environment"`);
          continue;
        }
        if (typeof def.file === 'string') {
          const file = resolve(baseDir, def.file);
          try {
            secrets.push({ name: sname, value: readFile(file), from: `file ${def.file}` });
          } catch (e) {
            problems.push(`${path}.file: cannot read ${def.file}: ${(e as Error).message}`);
          }
        } else if (typeof def.environment === 'string') {
          const value = env[def.environment];
          if (value === undefined) problems.push(`${path}.environment: the environment variable ${def.environment} is not set`);
          else secrets.push({ name: sname, value, from: `environment variable ${def.environment}` });
        } else problems.push(`${path} needs "file: PATH" or "environment: VARIABLE"`);
      }
    }
  }
  const secretNames = new Set(Object.keys(isObj(root.secrets) ? root.secrets : {}));
  const volumes = readTopVolumes(root.volumes, problems, warnings);

  // Services.
  const services: ComposeService[] = [];
  if (!isObj(root.services) || Object.keys(root.services).length === 0) {
    problems.push('services must be a mapping with at least one service');
  } else {
    for (const [sname, raw] of Object.entries(root.services)) {
      const path = `services.${sname}`;
      if (!SERVICE_NAME_RE.test(sname)) {
        problems.push(`${path}: a service name must be 1..63 letters, digits, '-' or '_' starting with a letter or digit (it becomes an ECS service name and a DNS name)`);
        continue;
      }
      if (!isObj(raw)) {
        problems.push(`${path} must be a mapping`);
        continue;
      }
      checkKeys(raw, SERVICE_KEYS, path);
      const svc = readService(sname, raw, path, { problems, warnings, checkKeys, env, readFile, baseDir, secretNames, volumes: new Set(volumes) });
      if (svc) services.push(svc);
    }
    const known = new Set(services.map((s) => s.name));
    for (const s of services) {
      for (const d of s.dependsOn) {
        if (!known.has(d.service) && isObj(root.services) && !(d.service in root.services)) {
          problems.push(`services.${s.name}.depends_on: there is no service named ${d.service}`);
        }
      }
    }
  }
  if (problems.length) throw new ComposeError(problems);
  return { name, services, secrets, volumes, warnings };
}

interface ServiceContext {
  problems: string[];
  warnings: string[];
  checkKeys: (o: Obj, allowed: Set<string>, path: string) => void;
  env: Record<string, string | undefined>;
  readFile: (path: string) => string;
  baseDir: string;
  secretNames: Set<string>;
  volumes: Set<string>;
}

function readService(name: string, raw: Obj, path: string, cx: ServiceContext): ComposeService | undefined {
  const { problems, warnings, checkKeys } = cx;
  if (typeof raw.image !== 'string' || !raw.image) {
    problems.push(`${path}.image is required (Skiff runs images from a registry; "build" is not supported)`);
    return undefined;
  }
  const svc: ComposeService = {
    name,
    image: raw.image,
    environment: [],
    ports: [],
    expose: [],
    dependsOn: [],
    limits: {},
    reservations: {},
    secrets: [],
    mounts: readServiceMounts(raw.volumes, path, { baseDir: cx.baseDir, named: cx.volumes, problems, warnings }),
  };
  const words = (v: unknown, key: string): string[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') {
      try {
        return shellWords(v);
      } catch (e) {
        problems.push(`${path}.${key}: ${(e as Error).message}`);
        return undefined;
      }
    }
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.map(String);
    problems.push(`${path}.${key} must be a string or a list of strings`);
    return undefined;
  };
  svc.command = words(raw.command, 'command');
  svc.entrypoint = words(raw.entrypoint, 'entrypoint');

  // env_file first, environment overrides.
  const env = new Map<string, string>();
  if (raw.env_file !== undefined) {
    const files = Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
    for (const f of files) {
      const file = typeof f === 'string' ? f : isObj(f) && typeof f.path === 'string' ? f.path : undefined;
      const required = isObj(f) ? f.required !== false : true;
      if (!file) {
        problems.push(`${path}.env_file entries must be paths or {path, required}`);
        continue;
      }
      let text: string;
      try {
        text = cx.readFile(resolve(cx.baseDir, file));
      } catch (e) {
        if (required) problems.push(`${path}.env_file: cannot read ${file}: ${(e as Error).message}`);
        continue;
      }
      for (const [k, v] of parseEnvFile(text)) env.set(k, v);
    }
  }
  if (raw.environment !== undefined) {
    const entries: [string, unknown][] = Array.isArray(raw.environment)
      ? raw.environment.map((e) => {
          const s = String(e);
          const i = s.indexOf('=');
          return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)];
        })
      : isObj(raw.environment)
        ? Object.entries(raw.environment)
        : [];
    if (!Array.isArray(raw.environment) && !isObj(raw.environment)) problems.push(`${path}.environment must be a list of KEY=VALUE or a mapping`);
    for (const [k, v] of entries) {
      if (v === null || v === undefined) {
        // `KEY` alone: the value comes from the environment of `skiff compose`, or the variable is left unset.
        const fromEnv = cx.env[k];
        if (fromEnv !== undefined) env.set(k, fromEnv);
        else warnings.push(`${path}.environment.${k} has no value and is not set in this environment; it was left unset`);
      } else env.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
    }
  }
  svc.environment = [...env];

  if (raw.ports !== undefined) {
    if (!Array.isArray(raw.ports)) problems.push(`${path}.ports must be a list`);
    else
      raw.ports.forEach((p, i) => {
        try {
          const port = parsePort(p);
          if (isObj(p)) checkKeys(p, PORT_KEYS, `${path}.ports[${i}]`);
          svc.ports.push(port);
        } catch (e) {
          problems.push(`${path}.ports[${i}]: ${(e as Error).message}`);
        }
      });
  }
  if (raw.expose !== undefined) {
    for (const e of Array.isArray(raw.expose) ? raw.expose : [raw.expose]) {
      const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(String(e));
      const n = m ? Number(m[1]) : NaN;
      if (!m || n < 1 || n > 65535) problems.push(`${path}.expose: ${JSON.stringify(e)} is not a port (1..65535, optionally /tcp or /udp)`);
      else svc.expose.push(n);
    }
  }

  if (raw.healthcheck !== undefined) {
    const h = raw.healthcheck;
    if (!isObj(h)) problems.push(`${path}.healthcheck must be a mapping`);
    else {
      checkKeys(h, HEALTHCHECK_KEYS, `${path}.healthcheck`);
      const disabled = h.disable === true || (Array.isArray(h.test) && h.test[0] === 'NONE');
      if (!disabled) {
        let test: string[] | undefined;
        if (typeof h.test === 'string') test = ['CMD-SHELL', h.test];
        else if (Array.isArray(h.test) && (h.test[0] === 'CMD' || h.test[0] === 'CMD-SHELL') && h.test.length > 1) test = h.test.map(String);
        if (!test) problems.push(`${path}.healthcheck.test must be a command string, ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]`);
        else {
          const hc: ComposeHealthcheck = { test };
          for (const [key, field] of [['interval', 'interval'], ['timeout', 'timeout'], ['start_period', 'startPeriod']] as const) {
            if (h[key] === undefined) continue;
            try {
              hc[field] = parseDuration(h[key]);
            } catch (e) {
              problems.push(`${path}.healthcheck.${key}: ${(e as Error).message}`);
            }
          }
          if (h.retries !== undefined) {
            if (!Number.isInteger(h.retries) || (h.retries as number) < 0) problems.push(`${path}.healthcheck.retries must be a whole number`);
            else hc.retries = h.retries as number;
          }
          svc.healthcheck = hc;
        }
      }
    }
  }

  if (raw.depends_on !== undefined) {
    if (Array.isArray(raw.depends_on)) {
      for (const d of raw.depends_on) svc.dependsOn.push({ service: String(d), condition: 'service_started' });
    } else if (isObj(raw.depends_on)) {
      for (const [dep, v] of Object.entries(raw.depends_on)) {
        const dpath = `${path}.depends_on.${dep}`;
        if (!isObj(v)) {
          problems.push(`${dpath} must be a mapping with "condition"`);
          continue;
        }
        checkKeys(v, DEPENDS_KEYS, dpath);
        const condition = (v.condition ?? 'service_started') as DependsCondition;
        if (!CONDITIONS.has(condition)) problems.push(`${dpath}.condition must be service_started, service_healthy or service_completed_successfully`);
        else svc.dependsOn.push({ service: dep, condition });
      }
    } else problems.push(`${path}.depends_on must be a list of service names or a mapping`);
    if (svc.dependsOn.some((d) => d.service === name)) problems.push(`${path}.depends_on: a service cannot depend on itself`);
  }

  const resources = (o: unknown, rpath: string, into: ComposeResources) => {
    if (o === undefined) return;
    if (!isObj(o)) return problems.push(`${rpath} must be a mapping`);
    checkKeys(o, RESOURCE_KEYS, rpath);
    if (o.cpus !== undefined) {
      const n = Number(o.cpus);
      if (!Number.isFinite(n) || n <= 0) problems.push(`${rpath}.cpus must be a positive number of CPUs (for example 0.5)`);
      else into.cpus = n;
    }
    if (o.memory !== undefined) {
      try {
        into.memory = parseBytes(o.memory);
      } catch (e) {
        problems.push(`${rpath}.memory: ${(e as Error).message}`);
      }
    }
  };
  if (raw.deploy !== undefined) {
    const d = raw.deploy;
    if (!isObj(d)) problems.push(`${path}.deploy must be a mapping`);
    else {
      checkKeys(d, DEPLOY_KEYS, `${path}.deploy`);
      if (d.replicas !== undefined) {
        if (!Number.isInteger(d.replicas) || (d.replicas as number) < 0) problems.push(`${path}.deploy.replicas must be a whole number ≥ 0`);
        else svc.replicas = d.replicas as number;
      }
      if (d.resources !== undefined) {
        if (!isObj(d.resources)) problems.push(`${path}.deploy.resources must be a mapping`);
        else {
          checkKeys(d.resources, RESOURCES_KEYS, `${path}.deploy.resources`);
          resources(d.resources.limits, `${path}.deploy.resources.limits`, svc.limits);
          resources(d.resources.reservations, `${path}.deploy.resources.reservations`, svc.reservations);
        }
      }
    }
  }
  // Service-level shorthands (Compose's older form); deploy.resources wins.
  const short: Obj = {};
  if (raw.cpus !== undefined) short.cpus = raw.cpus;
  if (raw.mem_limit !== undefined) short.memory = raw.mem_limit;
  const limits: ComposeResources = {};
  resources(short, path, limits);
  svc.limits = { ...limits, ...svc.limits };
  if (raw.mem_reservation !== undefined && svc.reservations.memory === undefined) {
    try {
      svc.reservations.memory = parseBytes(raw.mem_reservation);
    } catch (e) {
      problems.push(`${path}.mem_reservation: ${(e as Error).message}`);
    }
  }

  if (raw.secrets !== undefined) {
    if (!Array.isArray(raw.secrets)) problems.push(`${path}.secrets must be a list`);
    else
      raw.secrets.forEach((s, i) => {
        const spath = `${path}.secrets[${i}]`;
        let source: string | undefined;
        let target: string | undefined;
        if (typeof s === 'string') source = target = s;
        else if (isObj(s) && typeof s.source === 'string') {
          checkKeys(s, SERVICE_SECRET_KEYS, spath);
          source = s.source;
          target = typeof s.target === 'string' ? s.target : s.source;
        }
        if (!source || !target) return problems.push(`${spath} must be a secret name or {source, target}`);
        if (!cx.secretNames.has(source)) return problems.push(`${spath}: there is no top-level secret named ${source}`);
        svc.secrets.push({ source, target });
      });
  }

  const str = (k: string) => {
    if (raw[k] === undefined) return undefined;
    if (typeof raw[k] === 'string' || typeof raw[k] === 'number') return String(raw[k]);
    problems.push(`${path}.${k} must be a string`);
    return undefined;
  };
  svc.workingDir = str('working_dir');
  svc.user = str('user');
  if (raw.stop_grace_period !== undefined) {
    try {
      svc.stopGracePeriod = parseDuration(raw.stop_grace_period);
    } catch (e) {
      problems.push(`${path}.stop_grace_period: ${(e as Error).message}`);
    }
  }
  for (const [k, field] of [['init', 'init'], ['read_only', 'readOnly']] as const) {
    if (raw[k] === undefined) continue;
    if (typeof raw[k] !== 'boolean') problems.push(`${path}.${k} must be true or false`);
    else svc[field] = raw[k] as boolean;
  }
  return svc;
}

/** Compose's project-name rule: lowercase letters, digits, '-' and '_', starting with a letter or digit. */
export function normaliseProjectName(raw: string): string {
  return raw.toLowerCase().replace(/[^a-z0-9_-]/g, '').replace(/^[_-]+/, '');
}

/** Interpolates every string in a parsed document (keys stay as written). */
function interpolate(v: unknown, env: Record<string, string | undefined>, problems: string[], path: string): unknown {
  if (typeof v === 'string') return interpolateString(v, env, problems, path);
  if (Array.isArray(v)) return v.map((x, i) => interpolate(x, env, problems, `${path}[${i}]`));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x, env, problems, path ? `${path}.${k}` : k)]));
  return v;
}
