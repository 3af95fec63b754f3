/**
 * EC2 Query responses: `<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`
 * with a `requestId` and the result's members in EC2's lower-camel XML names;
 * a list is a wrapper element (`vpcSet`, `ipPermissions`) whose members are `<item>`s.
 */
export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** A value a response may hold: absent members (undefined) are left out. */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [name: string]: XmlValue };

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function element(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => element('item', v)).join('')}</${name}>`;
  if (typeof value === 'object') return `<${name}>${members(value)}</${name}>`;
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

function members(obj: { [name: string]: XmlValue }): string {
  return Object.entries(obj)
    .map(([k, v]) => element(k, v))
    .join('');
}

/** The whole response document of `action`. */
export function responseXml(action: string, requestId: string, result: { [name: string]: XmlValue }): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">` +
    `<requestId>${xmlEscape(requestId)}</requestId>${members(result)}</${action}Response>`
  );
}
