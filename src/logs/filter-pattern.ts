/**
 * CloudWatch Logs filter patterns for unstructured log events (the term forms):
 *
 *   ERROR Exception        every term must occur (AND)
 *   "disk full"            a quoted phrase must occur as written (\" and \\ escape)
 *   ?ERROR ?WARN           at least one `?` term must occur (OR)
 *   ERROR -Retry           a `-` term must not occur
 *   "" or empty            every event matches
 *
 * Matching is case-sensitive substring search, as in CloudWatch. The plain,
 * OR and exclusion forms combine: an event matches when it has every plain term,
 * at least one OR term (if there are any) and none of the excluded terms.
 *
 * JSON (`{ $.level = "x" }`), space-delimited (`[ip, user, ...]`) and regex
 * (`%...%`) patterns are refused with a message saying so: Skiff does not
 * implement them.
 */

export interface FilterPattern {
  required: string[];
  anyOf: string[];
  excluded: string[];
}

/** A pattern the caller must fix; the protocol maps it to InvalidParameterException. */
export class FilterPatternError extends Error {}

export const MAX_FILTER_PATTERN_LENGTH = 1024;

export function parseFilterPattern(source: string): FilterPattern {
  if (source.length > MAX_FILTER_PATTERN_LENGTH) {
    throw new FilterPatternError(`filterPattern must be at most ${MAX_FILTER_PATTERN_LENGTH} characters (got ${source.length}).`);
  }
  const text = source.trim();
  const pattern: FilterPattern = { required: [], anyOf: [], excluded: [] };
  if (text.startsWith('{') || text.startsWith('[') || text.startsWith('%')) {
    throw new FilterPatternError(
      'Skiff supports term filter patterns only (terms, "quoted phrases", ?term for OR, -term to exclude); JSON, space-delimited and regex patterns are not implemented.',
    );
  }
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ' || text[i] === '\t') {
      i++;
      continue;
    }
    let kind: keyof FilterPattern = 'required';
    if ((text[i] === '?' || text[i] === '-') && i + 1 < text.length && text[i + 1] !== ' ') {
      kind = text[i] === '?' ? 'anyOf' : 'excluded';
      i++;
    }
    let term = '';
    if (text[i] === '"') {
      i++;
      let closed = false;
      while (i < text.length) {
        const ch = text[i];
        if (ch === '\\' && i + 1 < text.length) {
          term += text[i + 1];
          i += 2;
          continue;
        }
        if (ch === '"') {
          closed = true;
          i++;
          break;
        }
        term += ch;
        i++;
      }
      if (!closed) throw new FilterPatternError(`filterPattern has an unterminated quoted phrase: ${JSON.stringify(source)}. Close it with ".`);
      if (i < text.length && text[i] !== ' ' && text[i] !== '\t') {
        throw new FilterPatternError(`filterPattern: put a space after the quoted phrase "${term}".`);
      }
    } else {
      while (i < text.length && text[i] !== ' ' && text[i] !== '\t') term += text[i++];
    }
    if (term === '') continue; // "" matches everything: it adds no condition
    pattern[kind].push(term);
  }
  return pattern;
}

export function matchesFilter(p: FilterPattern, message: string): boolean {
  for (const t of p.required) if (!message.includes(t)) return false;
  for (const t of p.excluded) if (message.includes(t)) return false;
  return p.anyOf.length === 0 || p.anyOf.some((t) => message.includes(t));
}

/** True when the pattern accepts every event (no condition at all). */
export function matchesEverything(p: FilterPattern): boolean {
  return p.required.length === 0 && p.anyOf.length === 0 && p.excluded.length === 0;
}
