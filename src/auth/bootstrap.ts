/**
 * Server start-up for the API's security: the master key, the root access key
 * and the TLS certificate.
 *
 * Root key: SKIFF_ROOT_ACCESS_KEY_ID / SKIFF_ROOT_SECRET_ACCESS_KEY when set
 * (as MinIO's root user); otherwise the first start generates one and writes it,
 * in AWS shared-credentials form, to `<dataDir>/root-credentials` (0600).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../store/db.ts';
import { run } from '../util/exec.ts';
import { AuditLog, type AuditOptions } from './audit.ts';
import { KeyStore, newAccessKeyId, newSecretAccessKey } from './keys.ts';
import { writePrivateFile, type MasterKey } from './master-key.ts';

export const ROOT_CREDENTIALS_FILE = 'root-credentials';

export interface AuthSetup {
  keys: KeyStore;
  audit: AuditLog;
  master: MasterKey;
  /** Set when the root key's credentials are in a file (generated on a first start without the env vars). */
  rootCredentialsFile?: string;
}

/** `loadMaster` loads the master key (secrets/master-key-rotation.ts loadMasterKey: it finishes an interrupted rotation, refuses a key that is not the store's). */
export function setUpAuth(
  dataDir: string,
  db: Db,
  root: { accessKeyId?: string; secretAccessKey?: string },
  log: (m: string) => void,
  loadMaster: () => MasterKey,
  auditOptions: AuditOptions = {},
): AuthSetup {
  // The store holds task definitions (environment values), the audit log and encrypted keys: owner-only,
  // even where the data dir must be searchable by the user namespace's root (SQLite gives -wal/-shm the same mode).
  for (const f of ['skiff.db', 'skiff.db-wal', 'skiff.db-shm']) {
    if (existsSync(join(dataDir, f))) chmodSync(join(dataDir, f), 0o600);
  }
  const master = loadMaster();
  const keys = new KeyStore(db, master);
  const audit = new AuditLog(db, { log, ...auditOptions });
  const file = join(dataDir, ROOT_CREDENTIALS_FILE);
  if (root.accessKeyId && root.secretAccessKey) {
    keys.ensureRoot(root.accessKeyId, root.secretAccessKey);
    return { keys, audit, master };
  }
  const active = keys.activeRoot();
  if (active && existsSync(file) && readFileSync(file, 'utf8').includes(active.accessKeyId)) {
    log(`API root key ${active.accessKeyId}: credentials in ${file}`);
    return { keys, audit, master, rootCredentialsFile: file };
  }
  const accessKeyId = newAccessKeyId();
  const secret = newSecretAccessKey();
  keys.ensureRoot(accessKeyId, secret);
  writePrivateFile(file, `# Skiff root access key (all permissions). Use: AWS_SHARED_CREDENTIALS_FILE=${file} AWS_PROFILE=skiff\n[skiff]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${secret}\n`);
  log(`generated the API root key ${accessKeyId}; its credentials are in ${file} (readable by root only)`);
  return { keys, audit, master, rootCredentialsFile: file };
}

/** A self-signed certificate for `hosts` in `<dataDir>/tls/`, made with the openssl CLI once and reused. */
export async function selfSignedCertificate(dataDir: string, hosts: string[]): Promise<{ certFile: string; keyFile: string }> {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile };
  const san = [...new Set(['127.0.0.1', 'localhost', ...hosts])]
    .filter((h) => h && h !== '0.0.0.0' && h !== '::')
    .map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`))
    .join(',');
  const r = await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825',
    '-subj', '/CN=skiff', '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile,
  ]);
  if (r.code !== 0) throw new Error(`openssl could not make a self-signed certificate: ${r.stderr.trim()}`);
  return { certFile, keyFile };
}
