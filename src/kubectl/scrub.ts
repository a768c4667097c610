// Why: kubectl's errors can print the object it sent (client-side apply prints the whole patch), Secret `data`
// and the last-applied-configuration annotation included. Whatever of its output reaches status, Events or logs
// goes through here first, so no Secret value does.

export const SCRUBBED = '[scrubbed by kustomate]';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** A JSON string literal (its quotes and escapes), with or without one level of escaping around it. */
const JSON_STRING = String.raw`"(?:[^"\\]|\\.)*"`;
const ESCAPED_STRING = String.raw`\\"(?:[^"\\]|\\[^"])*\\"`;

/** Replaces every value in a `{"key":"value",…}` body, keeping the keys (they name what was there). */
function scrubJsonMap(body: string, escaped: boolean): string {
  const str = escaped ? ESCAPED_STRING : JSON_STRING;
  const quote = escaped ? '\\"' : '"';
  return body.replace(new RegExp(`(${str}\\s*:\\s*)${str}`, 'g'), `$1${quote}${SCRUBBED}${quote}`);
}

/** Secret values and last-applied-configuration annotations out of a text: JSON (plain or escaped once) and YAML. */
export function scrub(text: string): string {
  let out = text;
  // The annotation holds the whole object as JSON text: drop it whole.
  out = out.replace(new RegExp(`("${LAST_APPLIED.replace(/[./]/g, '\\$&')}"\\s*:\\s*)${JSON_STRING}`, 'g'), `$1"${SCRUBBED}"`);
  out = out.replace(new RegExp(`(${LAST_APPLIED.replace(/[./]/g, '\\$&')}:)[^\\n]*((?:\\n[ \\t]+[^\\n]*)*)`, 'g'), `$1 ${SCRUBBED}`);
  // "data": {...} and "stringData": {...}, plain and escaped once.
  out = out.replace(/("(?:data|stringData)"\s*:\s*\{)([^{}]*)\}/g, (_m, head: string, body: string) => `${head}${scrubJsonMap(body, false)}}`);
  out = out.replace(/(\\"(?:data|stringData)\\"\s*:\s*\{)([^{}]*)\}/g, (_m, head: string, body: string) => `${head}${scrubJsonMap(body, true)}}`);
  // YAML: `data:` or `stringData:` followed by more indented `key: value` lines.
  out = out.replace(/^([ \t]*)(data|stringData):[ \t]*\n((?:\1[ \t]+[^\n]*\n?)*)/gm, (_m, indent: string, key: string, block: string) =>
    `${indent}${key}:\n${block.replace(/^([ \t]+[^:\n]+:)[ \t]*[^\n]*$/gm, `$1 ${SCRUBBED}`)}`,
  );
  return out;
}
