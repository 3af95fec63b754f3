/**
 * Service discovery names. Every ECS service gets the DNS name
 * `<service>.<cluster>.skiff.local` (lower case), and tasks carry the search
 * domain `<cluster>.skiff.local`, so a bare `<service>` resolves to the service
 * of that name in the asking task's own cluster — the way ECS service discovery
 * (Cloud Map) gives each service a name in a namespace.
 */
export const DISCOVERY_DOMAIN = 'skiff.local';

/** The namespace of a cluster's services: `<cluster>.skiff.local`. */
export function serviceNamespace(cluster: string): string {
  return `${cluster.toLowerCase()}.${DISCOVERY_DOMAIN}`;
}

/** The fully qualified DNS name of a service. */
export function serviceDnsName(cluster: string, service: string): string {
  return `${service.toLowerCase()}.${serviceNamespace(cluster)}`;
}

export type ParsedName =
  /** One label: a service in the asking task's cluster. */
  | { kind: 'bare'; service: string }
  /** `<service>.<cluster>.skiff.local`. */
  | { kind: 'qualified'; service: string; cluster: string }
  /** Under skiff.local but not a service name Skiff gives (NXDOMAIN). */
  | { kind: 'unknown' }
  /** Not Skiff's to answer (REFUSED: Skiff never forwards queries). */
  | { kind: 'foreign' };

/** Classifies a queried name (case-insensitive, trailing dot allowed). */
export function parseQueryName(raw: string): ParsedName {
  const name = raw.toLowerCase().replace(/\.$/, '');
  if (!name) return { kind: 'foreign' };
  const labels = name.split('.');
  if (labels.length === 1) return { kind: 'bare', service: labels[0]! };
  const suffix = `.${DISCOVERY_DOMAIN}`;
  if (name === DISCOVERY_DOMAIN) return { kind: 'unknown' };
  if (!name.endsWith(suffix)) return { kind: 'foreign' };
  const inner = name.slice(0, -suffix.length).split('.');
  if (inner.length !== 2 || inner.some((l) => !l)) return { kind: 'unknown' };
  return { kind: 'qualified', service: inner[0]!, cluster: inner[1]! };
}

/**
 * The /etc/resolv.conf a task gets: Skiff's responder on its subnet's gateway,
 * the cluster's namespace as search domain, short timeouts (the responder is
 * one hop away and answers from memory).
 */
export function resolvConf(nameserver: string, cluster: string): string {
  return `nameserver ${nameserver}\nsearch ${serviceNamespace(cluster)}\noptions ndots:1 timeout:2 attempts:3\n`;
}
