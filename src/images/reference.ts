/**
 * Image reference parsing, following Docker's normalisation rules.
 *
 *   busybox                         -> docker.io/library/busybox:latest
 *   localhost:5000/app:1            -> localhost:5000/app:1
 *   127.0.0.1:5000/ns/app@sha256:.. -> 127.0.0.1:5000/ns/app@sha256:..
 *   host/app:tag@sha256:..          -> pulled by digest; the tag is kept for display only
 *
 * Contract: `parseReference` either returns a fully validated reference (domain, path,
 * tag and/or digest all checked against the distribution grammar) or throws an
 * ImagePullError saying what is wrong. Nothing unvalidated ends up in a URL.
 */
import { ImagePullError } from './images.ts';
import { isDigest } from './digest.ts';

export const DEFAULT_DOMAIN = 'docker.io';

export interface ImageReference {
  /** Registry as written in the reference, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`,
);
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const MAX_NAME_LENGTH = 255;

function bad(ref: string, why: string): never {
  throw new ImagePullError(`invalid reference format ${JSON.stringify(ref)}: ${why}`);
}

export function parseReference(input: string): ImageReference {
  if (typeof input !== 'string' || input.length === 0) bad(String(input), 'the image name is empty');
  if (input.length > 1024) bad(input.slice(0, 64) + '...', 'the reference is too long');
  if (/\s/.test(input)) bad(input, 'it contains whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) bad(input, 'the digest must be sha256: followed by 64 lowercase hex characters');
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) bad(input, `the tag ${JSON.stringify(tag)} is not valid (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`);
  }
  if (rest.length === 0) bad(input, 'the repository name is empty');

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[')) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN_RE.test(domain)) bad(input, `the registry host ${JSON.stringify(domain)} is not valid`);
  const port = /:(\d+)$/.exec(domain);
  if (port && (Number(port[1]) < 1 || Number(port[1]) > 65535)) bad(input, `the registry port ${port[1]} is out of range`);
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = `library/${path}`;
  if (path.length === 0) bad(input, 'the repository name is empty');
  for (const component of path.split('/')) {
    if (component.length === 0) bad(input, 'the repository name has an empty path component');
    if (!PATH_COMPONENT_RE.test(component)) {
      if (component.toLowerCase() !== component && PATH_COMPONENT_RE.test(component.toLowerCase())) {
        bad(input, 'repository name must be lowercase');
      }
      bad(input, `the repository path component ${JSON.stringify(component)} is not valid (lowercase letters, digits and separators . _ __ -)`);
    }
  }
  if (domain.length + 1 + path.length > MAX_NAME_LENGTH) bad(input, `the repository name must not be longer than ${MAX_NAME_LENGTH} characters`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { domain, path, tag, digest };
}

/** `domain/path` — the repository's full name, as used in error messages. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The normalised reference string: `domain/path[:tag][@digest]`. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Host (and port) to connect to for a reference's domain. */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? 'registry-1.docker.io' : domain;
}

/** True for localhost, 127.0.0.0/8 and ::1, with or without a port. */
export function isLoopbackHost(hostPort: string): boolean {
  let host = hostPort;
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else host = host.replace(/:\d+$/, '');
  host = host.toLowerCase();
  return host === 'localhost' || host === '::1' || /^127(?:\.\d{1,3}){3}$/.test(host);
}
