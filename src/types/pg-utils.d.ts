// Why: the pg driver's escaping functions live in its utility module too (CommonJS), which @types/pg does not describe.
declare module 'pg/lib/utils.js' {
  const utils: {
    escapeIdentifier(identifier: string): string;
    escapeLiteral(literal: string): string;
  };
  export default utils;
}
