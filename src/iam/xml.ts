/**
 * IAM Query responses: `<ActionResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
 * <ActionResult>...</ActionResult><ResponseMetadata><RequestId/></ResponseMetadata>`,
 * members in IAM's PascalCase names, a list a wrapper element of `<member>`s.
 */
export const IAM_XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';

/** A value a response may hold: absent members (undefined) are left out. */
export type XmlValue = string | number | boolean | undefined | XmlValue[] | { [name: string]: XmlValue };

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function element(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return `<${name}>${value.map((v) => element('member', v)).join('')}</${name}>`;
  if (typeof value === 'object') return `<${name}>${members(value)}</${name}>`;
  return `<${name}>${xmlEscape(String(value))}</${name}>`;
}

function members(obj: { [name: string]: XmlValue }): string {
  return Object.entries(obj)
    .map(([k, v]) => element(k, v))
    .join('');
}

/** The whole response document of `action`; `result` undefined: an action with no result (DeleteRole). */
export function responseXml(action: string, requestId: string, result: { [name: string]: XmlValue } | undefined): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${IAM_XMLNS}">` +
    (result ? `<${action}Result>${members(result)}</${action}Result>` : '') +
    `<ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  );
}
