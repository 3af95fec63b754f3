/**
 * XML of the AWS Query protocols (EC2, IAM): a response's members as elements
 * named after them, absent members (undefined) left out, text escaped. Lists
 * are a wrapper element whose entries are `<item>`s (EC2) or `<member>`s (IAM).
 */

/** A value a response may hold: absent members (undefined) are left out. */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [name: string]: XmlValue };

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The elements of `obj`'s members, lists' entries named `listEntry`. */
export function xmlMembers(obj: { [name: string]: XmlValue }, listEntry: 'item' | 'member'): string {
  const element = (name: string, value: XmlValue): string => {
    if (value === undefined) return '';
    if (Array.isArray(value)) return `<${name}>${value.map((v) => element(listEntry, v)).join('')}</${name}>`;
    if (typeof value === 'object') return `<${name}>${Object.entries(value).map(([k, v]) => element(k, v)).join('')}</${name}>`;
    return `<${name}>${xmlEscape(String(value))}</${name}>`;
  };
  return Object.entries(obj)
    .map(([k, v]) => element(k, v))
    .join('');
}
