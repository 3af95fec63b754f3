/**
 * IAM Query responses: `<ActionResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
 * <ActionResult>...</ActionResult><ResponseMetadata><RequestId/></ResponseMetadata>`,
 * members in IAM's PascalCase names, a list a wrapper element of `<member>`s.
 */
import { xmlEscape, xmlMembers, type XmlValue } from '../api/query-xml.ts';
export const IAM_XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';

export { xmlEscape, type XmlValue } from '../api/query-xml.ts';
const members = (obj: { [name: string]: XmlValue }) => xmlMembers(obj, 'member');

/** The whole response document of `action`; `result` undefined: an action with no result (DeleteRole). */
export function responseXml(action: string, requestId: string, result: { [name: string]: XmlValue } | undefined): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${IAM_XMLNS}">` +
    (result ? `<${action}Result>${members(result)}</${action}Result>` : '') +
    `<ResponseMetadata><RequestId>${xmlEscape(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  );
}
