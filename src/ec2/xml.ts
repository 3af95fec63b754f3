/**
 * EC2 Query responses: `<ActionResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`
 * with a `requestId` and the result's members in EC2's lower-camel XML names;
 * a list is a wrapper element (`vpcSet`, `ipPermissions`) whose members are `<item>`s.
 */
import { xmlEscape, xmlMembers, type XmlValue } from '../api/query-xml.ts';
export const EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export { xmlEscape, type XmlValue } from '../api/query-xml.ts';
const members = (obj: { [name: string]: XmlValue }) => xmlMembers(obj, 'item');

/** The whole response document of `action`. */
export function responseXml(action: string, requestId: string, result: { [name: string]: XmlValue }): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">` +
    `<requestId>${xmlEscape(requestId)}</requestId>${members(result)}</${action}Response>`
  );
}
