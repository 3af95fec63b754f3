/**
 * The data dir's master key: 32 random bytes in `<dataDir>/master.key` (mode
 * 0600, created on first start), used to encrypt secrets at rest with
 * AES-256-GCM. Each ciphertext binds associated data (what it belongs to, e.g.
 * the access key id), so a ciphertext copied onto another row does not decrypt.
 *
 * Ciphertext format: `v1.<base64 iv>.<base64 tag>.<base64 data>`.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, statSync, writeSync, chmodSync } from 'node:fs';

export class MasterKey {
  /** Replaced only by `adopt` (master key rotation, src/secrets/master-key-rotation.ts). */
  private constructor(private key: Buffer) {}

  static generate(): MasterKey {
    return new MasterKey(randomBytes(32));
  }

  /** Loads an existing key file (never creates one). */
  static loadFile(file: string): MasterKey {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 master key`);
    return new MasterKey(key);
  }

  /** The key file's content. */
  serialize(): string {
    return this.key.toString('base64') + '\n';
  }

  /** Names the key without revealing it (HMAC of a constant), to check a key file matches the store. */
  fingerprint(): string {
    return createHmac('sha256', this.key).update('skiff master key fingerprint').digest('hex').slice(0, 32);
  }

  /** From now on this object encrypts and decrypts with `other`'s key (every holder of it switches at once). */
  adopt(other: MasterKey): void {
    this.key = Buffer.from(other.key);
  }

  /** Loads the key file, creating it (0600, exclusively) if it does not exist. Refuses a key file others can read. */
  static loadOrCreate(file: string): MasterKey {
    if (!existsSync(file)) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        try {
          writeSync(fd, randomBytes(32).toString('base64') + '\n');
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const st = statSync(file);
    if ((st.mode & 0o077) !== 0) chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 master key; restore it from a backup (secrets encrypted under it cannot be read without it)`);
    return new MasterKey(key);
  }

  static fromBytes(key: Buffer): MasterKey {
    if (key.length !== 32) throw new Error('a master key is 32 bytes');
    return new MasterKey(Buffer.from(key));
  }

  encrypt(plaintext: string | Buffer, aad: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const data = Buffer.concat([c.update(plaintext), c.final()]);
    return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), data.toString('base64')].join('.');
  }

  decrypt(ciphertext: string, aad: string): Buffer {
    const [v, iv, tag, data] = ciphertext.split('.');
    if (v !== 'v1' || !iv || !tag || data === undefined) throw new Error('unknown ciphertext format');
    const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]);
  }
}

/** Writes `content` to a new file readable by its owner only (replacing any old one). */
export function writePrivateFile(file: string, content: string): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    if ((fstatSync(fd).mode & 0o077) !== 0) chmodSync(file, 0o600);
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}
