// The served document says OpenAPI 3.0.3, whose Schema Object is a subset of JSON Schema: the
// route schemas (TypeBox, JSON Schema 2020-12) carry keywords 3.0 does not allow, and a strict
// validator or code generator refused the whole document (a review ran oas-validate on it). This
// rewrites them into their 3.0 spelling; what the schemas mean is unchanged.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The document with every schema in OpenAPI 3.0's dialect (a new object; the input is not changed). */
export function toOpenApi30<T>(doc: T): T {
  return rewrite(doc as Json) as T;
}

/** Objects whose keys are names (a property called `const` is no keyword): only their values are rewritten. */
const NAME_MAPS = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'paths',
  'responses',
  'content',
  'headers',
  'schemas',
  'securitySchemes',
  'encoding',
]);

/** Values that are data (an example, a default), not schemas: kept exactly. */
const DATA = new Set(['example', 'default', 'enum', 'value']);

function rewrite(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node === null || typeof node !== 'object') return node;
  const out: { [k: string]: Json } = {};
  for (const [k, v] of Object.entries(node)) {
    if (DATA.has(k) || k.startsWith('x-')) out[k] = v;
    // JSON Schema's `examples` is a list; 3.0's Schema Object has one `example`. (The `examples`
    // of a Media Type or Parameter Object is a map, never a list, and stays as it is.)
    else if (k === 'examples' && Array.isArray(v)) {
      if (v.length > 0 && !('example' in node)) out.example = v[0]!;
    }
    // A literal (`const`) is a one-value enum in 3.0.
    else if (k === 'const' && !('enum' in node)) out.enum = [v];
    // 3.0 has no patternProperties; a map's keys are free, its values' schema is additionalProperties.
    else if (k === 'patternProperties' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const values = Object.values(v).map(rewrite);
      if (values.length > 0) out.additionalProperties = values.length === 1 ? values[0]! : { anyOf: values };
    } else if (k === 'additionalProperties' && 'patternProperties' in node) continue;
    else if (NAME_MAPS.has(k) && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = Object.fromEntries(Object.entries(v).map(([name, x]) => [name, rewrite(x)]));
    } else out[k] = rewrite(v);
  }
  return out;
}
