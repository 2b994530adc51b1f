// JSON Schemas (TypeBox) of the control plane's requests and answers. They drive validation at the
// edge, the generated OpenAPI document and the TypeScript types of the handlers, so there is one
// description of each shape. Field names follow the seed: camelCase here, snake_case on builds.

import { Type, type Static } from 'typebox';
import { MAX_OUTBOUND_HOST_LENGTH, MAX_OUTBOUND_HOSTS } from './outbound-hosts.js';

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const LIMITS = {
  nameMax: 128,
  descriptionMax: 2048,
  envVarsMax: 256,
  envNameMax: 256,
  envValueMax: 32 * 1024,
  /**
   * Bytes of names and values in a function's environment, plain and secret variables together:
   * every deployment version keeps a copy (a review's 4.8 MB of variables added 4.8 MB to the
   * database with each deploy, outside any quota).
   */
  envTotalMax: 128 * 1024,
  memoryMin: 128,
  memoryMax: 1024,
  timeoutMin: 1,
  timeoutMax: 900,
  /** Instances kept warm per function / the most one function may run (scaling settings). */
  minWarmMax: 4,
  maxInstancesMax: 64,
} as const;

export const WorkspaceId = Type.String({
  description: 'Workspace id (`ws-` + 8 characters)',
  examples: ['ws-a1b2c3d4'],
});
export const FunctionId = Type.String({
  description: 'Function id (`fn-` + 8 characters)',
  examples: ['fn-e5f6g7h8'],
});

export const WorkspaceParams = Type.Object({ workspace_id: WorkspaceId });
export const FunctionParams = Type.Object({ workspace_id: WorkspaceId, function_id: FunctionId });

// Names and descriptions come back in every listing; one lone surrogate or control character in
// them and strict JSON consumers (jq) refuse the whole list, so they are refused on the way in.
// Ajv compiles patterns with the u flag, where \uD800-\uDFFF matches only unpaired surrogates.
// "Not blank" counts invisible format characters (\p{Cf}: zero-width space, BOM, soft hyphen) as
// blank too: a name made of them shows as nothing in the console.
// The lookahead is anchored and the character class is not nested, so both stay linear.
const NAME_PATTERN = '^(?=[\\s\\p{Cf}]*[^\\s\\p{Cf}])[^\\x00-\\x1F\\x7F-\\x9F\\uD800-\\uDFFF]*$';
/** Free text may keep tabs and line breaks (\t, \n, \r); other control characters are refused. */
const TEXT_PATTERN = '^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F\\uD800-\\uDFFF]*$';

const nameRules = {
  minLength: 1,
  maxLength: LIMITS.nameMax,
  pattern: NAME_PATTERN,
  // What a refused pattern means, said instead of the expression (api/validation.ts).
  'x-pattern-message': 'must not be blank, and must not hold control characters or unpaired surrogates',
} as const;
const Name = Type.String({
  ...nameRules,
  description: 'Display name: not blank, no control characters, well-formed Unicode',
  examples: ['payments'],
});
const Description = Type.String({
  maxLength: LIMITS.descriptionMax,
  pattern: TEXT_PATTERN,
  'x-pattern-message':
    'must not hold control characters other than tabs and line breaks, or unpaired surrogates',
  description: 'Free text (tabs and line breaks allowed; no other control characters)',
  examples: ['Payment webhooks'],
});

export const WorkspaceCreate = Type.Object(
  { name: Name, description: Type.Optional(Nullable(Description)) },
  {
    additionalProperties: false,
    description: 'A new workspace',
    examples: [{ name: 'payments', description: 'Payment webhooks' }],
  },
);
export type WorkspaceCreate = Static<typeof WorkspaceCreate>;

export const WorkspaceUpdate = Type.Object(
  {
    name: Type.Optional(Type.Union([Name, Type.Null()])),
    description: Type.Optional(Nullable(Description)),
  },
  {
    additionalProperties: false,
    description: 'Fields to change; omitted fields stay as they are',
    examples: [{ name: 'billing' }],
  },
);
export type WorkspaceUpdate = Static<typeof WorkspaceUpdate>;

export const Workspace = Type.Object(
  {
    id: WorkspaceId,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    functionCount: Type.Integer({ description: 'Functions in the workspace' }),
    invocations24h: Type.Integer({
      description: 'Invocations of its functions in the last 24 hours (rolling)',
    }),
    errors24h: Type.Integer({ description: 'Failed invocations in the last 24 hours (rolling)' }),
    errorRate: Type.Number({ description: 'errors24h / invocations24h × 100 (0 when there were none)' }),
    avgDuration: Type.Number({ description: 'Mean invocation duration in ms over the last 24 hours' }),
  },
  {
    description: 'A workspace with statistics computed over a rolling 24-hour window',
    examples: [
      {
        id: 'ws-a1b2c3d4',
        name: 'payments',
        description: 'Payment webhooks',
        createdAt: '2026-11-26T12:00:00.000Z',
        functionCount: 2,
        invocations24h: 120,
        errors24h: 3,
        errorRate: 2.5,
        avgDuration: 4.2,
      },
    ],
  },
);

const HttpMethod = Type.String({
  description: `An HTTP method: ${HTTP_METHODS.join(', ')} (case-insensitive; stored upper-case)`,
  examples: ['GET'],
});
const HttpMethods = Type.Array(HttpMethod, {
  minItems: 1,
  maxItems: HTTP_METHODS.length * 2,
  description: 'Methods the function answers',
});
const EnvVars = Type.Record(Type.String(), Type.String(), {
  description: 'Environment variables the function sees as os.environ',
  examples: [{ GREETING: 'hello' }],
});
const SecretEnvVars = Type.Record(Type.String(), Type.String(), {
  description:
    'Secret environment variables: write-only. Stored encrypted, visible to the function as os.environ, answered as "********" and kept out of logs.',
  examples: [{ API_TOKEN: 's3cr3t' }],
});
const SecretEnvPatch = Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
  description:
    'Secret variables to set (a value), remove (null) or keep ("********", as answered); names not sent stay as they are',
  examples: [{ API_TOKEN: 'n3w', OLD_TOKEN: null }],
});
export const FUNCTION_AUTH_TYPES = ['NONE', 'KEY'] as const;
const AuthType = Type.Union([Type.Literal('NONE'), Type.Literal('KEY')], {
  description:
    'Who may call the invocation URL: NONE (anyone, the default) or KEY (Authorization: Bearer with a key of the workspace, or the admin key)',
});
const Memory = Type.Integer({
  minimum: LIMITS.memoryMin,
  maximum: LIMITS.memoryMax,
  description: 'Memory in MB',
});
const Timeout = Type.Integer({
  minimum: LIMITS.timeoutMin,
  maximum: LIMITS.timeoutMax,
  description: 'Timeout in seconds',
});
const Runtime = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'Runtime; "Python 3.12" (default) or "python"',
  examples: ['Python 3.12'],
});
const MinWarm = Type.Integer({
  minimum: 0,
  maximum: LIMITS.minWarmMax,
  description: 'Instances kept warm even when idle (0 = scale to zero)',
});
const MaxInstances = Type.Integer({
  minimum: 1,
  maximum: LIMITS.maxInstancesMax,
  description: 'Most instances this function may run at once (capped by the platform limits)',
});
const OutboundHosts = Type.Array(Type.String({ minLength: 1, maxLength: MAX_OUTBOUND_HOST_LENGTH }), {
  maxItems: MAX_OUTBOUND_HOSTS,
  description:
    "Where the function may send HTTP requests (spin_sdk.http.send), as Spin's allowed_outbound_hosts: scheme://host[:port], scheme http, https or *, host a name, *.domain, an address or *, port a number or * (default: the scheme's). Empty: nowhere. The platform never lets a function reach private or reserved addresses unless the operator allows their network.",
  examples: [['https://api.example.com', 'https://*.example.org:8443']],
});
const Code = Type.String({
  description: 'The Python source, base64-encoded',
  examples: ['ZnJvbSBzcGluX3NkayBpbXBvcnQgaHR0cAo='],
});

export const FunctionCreate = Type.Object(
  {
    name: Name,
    description: Type.Optional(Nullable(Description)),
    runtime: Type.Optional(Runtime),
    memory: Type.Optional(Memory),
    timeout: Type.Optional(Timeout),
    httpMethods: Type.Optional(HttpMethods),
    environmentVariables: Type.Optional(EnvVars),
    secretEnvironmentVariables: Type.Optional(SecretEnvVars),
    authType: Type.Optional(AuthType),
    minWarm: Type.Optional(MinWarm),
    maxInstances: Type.Optional(Type.Union([MaxInstances, Type.Null()])),
    allowedOutboundHosts: Type.Optional(OutboundHosts),
    code: Code,
  },
  {
    additionalProperties: false,
    description: 'A new function',
    examples: [
      {
        name: 'hello',
        runtime: 'Python 3.12',
        memory: 256,
        timeout: 30,
        httpMethods: ['GET'],
        code: 'ZnJvbSBzcGluX3NkayBpbXBvcnQgaHR0cAo=',
      },
    ],
  },
);
export type FunctionCreate = Static<typeof FunctionCreate>;

export const FUNCTION_PATCH_STATUSES = ['active', 'disabled'] as const;

export const FunctionUpdate = Type.Object(
  {
    name: Type.Optional(Type.Union([Name, Type.Null()])),
    description: Type.Optional(Nullable(Description)),
    runtime: Type.Optional(Type.Union([Runtime, Type.Null()])),
    memory: Type.Optional(Type.Union([Memory, Type.Null()])),
    timeout: Type.Optional(Type.Union([Timeout, Type.Null()])),
    httpMethods: Type.Optional(Type.Union([HttpMethods, Type.Null()])),
    environmentVariables: Type.Optional(Type.Union([EnvVars, Type.Null()])),
    secretEnvironmentVariables: Type.Optional(Type.Union([SecretEnvPatch, Type.Null()])),
    authType: Type.Optional(Type.Union([AuthType, Type.Null()])),
    minWarm: Type.Optional(Type.Union([MinWarm, Type.Null()])),
    maxInstances: Type.Optional(Type.Union([MaxInstances, Type.Null()])),
    allowedOutboundHosts: Type.Optional(Type.Union([OutboundHosts, Type.Null()])),
    code: Type.Optional(Type.Union([Code, Type.Null()])),
    status: Type.Optional(
      Type.Union([
        Type.String({ enum: [...FUNCTION_PATCH_STATUSES], description: 'active | disabled' }),
        Type.Null(),
      ]),
    ),
    invocationUrl: Type.Optional(
      Type.Union([
        Type.String({
          maxLength: 2048,
          description: 'Where the function answers (http:// is added when the scheme is missing)',
        }),
        Type.Null(),
      ]),
    ),
    lastDeployed: Type.Optional(
      Type.Union([Type.String({ description: 'ISO 8601 time of the last deploy' }), Type.Null()]),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Fields to change; omitted or null fields stay as they are (a null description clears it; a null maxInstances means the platform default)',
    examples: [
      {
        status: 'active',
        invocationUrl: 'http://127.0.0.1:8000/fn/fn-e5f6g7h8',
        lastDeployed: '2026-11-26T12:00:00Z',
      },
    ],
  },
);
export type FunctionUpdate = Static<typeof FunctionUpdate>;

export const FunctionConfig = Type.Object(
  {
    id: FunctionId,
    workspaceId: WorkspaceId,
    name: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    runtime: Type.String(),
    memory: Type.Integer(),
    timeout: Type.Integer(),
    httpMethods: Type.Array(Type.String()),
    environmentVariables: Type.Record(Type.String(), Type.String()),
    secretEnvironmentVariables: Type.Record(Type.String(), Type.String(), {
      description: 'Names of the secret variables; every value is "********"',
    }),
    authType: Type.String({ description: 'NONE | KEY' }),
    minWarm: Type.Integer({ description: 'Instances kept warm even when idle' }),
    maxInstances: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Per-function instance cap (null: the platform default)',
    }),
    allowedOutboundHosts: Type.Array(Type.String(), {
      description: 'Where the function may send HTTP requests (empty: nowhere)',
    }),
    code: Type.String({ description: 'The current source, base64-encoded' }),
    invocationUrl: Type.Union([Type.String(), Type.Null()]),
    status: Type.String({
      description:
        'active | disabled. The seed’s console also understands building, deploying and failed; Eunha never sets them (a build’s state is its task’s, and a deploy answers once its version is live)',
    }),
    lastModified: Type.String({ format: 'date-time' }),
    lastDeployed: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    invocations24h: Type.Integer({ description: 'Invocations in the last 24 hours (rolling)' }),
    errors24h: Type.Integer({ description: 'Failed invocations in the last 24 hours (rolling)' }),
    avgDuration: Type.Number({ description: 'Mean duration in ms over the last 24 hours' }),
    unavailable: Type.Union([Type.Null(), Type.Object({ code: Type.String(), message: Type.String() })], {
      description:
        "null, or the error every call to the function gets whatever its code does, as the function URL answers it: DEPENDENCY_UNAVAILABLE when its active deployment could not be loaded at start-up (until it is deployed or activated again); NOT_READY while start-up has yet to load it (a call waits for it). `status` is the stored one, and may still say 'active'",
    }),
  },
  { description: 'A function with its configuration, current code and 24-hour statistics' },
);

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ examples: ['NOT_FOUND'] }),
      message: Type.String(),
      details: Type.Record(Type.String(), Type.Unknown()),
    }),
  },
  {
    description: 'Every error has this shape',
    examples: [{ error: { code: 'NOT_FOUND', message: "Workspace 'ws-x' not found", details: {} } }],
  },
);

/** The answer of a create past a per-workspace cap (functions, API keys). */
export const AT_CAP = {
  ...ErrorBody,
  description: '`CONFLICT`: the workspace holds the most allowed; `details.limit` says how many',
  examples: [
    {
      error: {
        code: 'CONFLICT',
        message: 'this workspace has 100 functions, the most allowed',
        details: { limit: 100 },
      },
    },
  ],
};

/** The answer of a store past the workspace's storage quota (core/storage-quota.ts). */
export const OUT_OF_STORAGE = {
  ...ErrorBody,
  description:
    '`QUOTA_EXCEEDED`: storing this would take the workspace past its storage quota (bytes or files); delete deployments, build tasks or functions it no longer needs',
  examples: [
    {
      error: {
        code: 'QUOTA_EXCEEDED',
        message:
          "workspace 'ws-a' is out of storage: 2.0 MiB more would take it past its 1024.0 MiB (it stores 1023.1 MiB). Delete deployments, build tasks or functions it no longer needs (GET /api/workspaces/{ws}/storage shows what it stores)",
        details: {
          workspace: 'ws-a',
          resource: 'bytes',
          limit: 1073741824,
          used: 1072798105,
          requested: 2097152,
        },
      },
    },
  ],
};

/** A write that names the version of the function it was made against (services/function-etag.ts). */
export const IfMatchHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      maxLength: 4096,
      description:
        'The function’s `ETag` (from its GET, create or update), or `*`: the request is refused with 412 `PRECONDITION_FAILED` if the function’s code or settings (status included) have changed since, instead of overwriting what someone else did',
    }),
  ),
});

export const CHANGED_SINCE = {
  ...ErrorBody,
  description:
    '`PRECONDITION_FAILED`: the function has changed since the version `If-Match` names; nothing was done. `details.etag` is its current tag',
  examples: [
    {
      error: {
        code: 'PRECONDITION_FAILED',
        message:
          "function 'fn-abc' has changed since the version the request names (If-Match); read it again",
        details: { etag: '"mX1rXn2o0cvxN1fZr2ZHZw"', ifMatch: '"Qk3n6m0pE3cL2mKq0Yw1Aa"' },
      },
    },
  ],
};

export const WorkspaceStorage = Type.Object(
  {
    usedBytes: Type.Integer({ description: 'Bytes of its functions’ code, build uploads and artifacts' }),
    maxBytes: Type.Integer({ description: 'Its quota of bytes (EUNHA_WORKSPACE_STORAGE_MAX_BYTES)' }),
    usedFiles: Type.Integer({ description: 'Files stored (each artifact is its files and a manifest)' }),
    maxFiles: Type.Integer({ description: 'Its quota of files (EUNHA_WORKSPACE_STORAGE_MAX_FILES)' }),
    logBytes: Type.Integer({
      description:
        'Bytes of its functions’ stored execution logs, in the database (each function within EUNHA_LOG_MAX_BYTES; not counted in usedBytes)',
    }),
    keyValueBytes: Type.Integer({
      description:
        'Bytes of its functions’ key-value entries, in the database (each function within EUNHA_KV_MAX_BYTES; not counted in usedBytes)',
    }),
  },
  {
    description:
      'What the workspace keeps in the blob store, against its quota, and what its functions keep in the database besides',
    examples: [
      {
        usedBytes: 5242880,
        maxBytes: 1073741824,
        usedFiles: 12,
        maxFiles: 20000,
        logBytes: 1048576,
        keyValueBytes: 4096,
      },
    ],
  },
);

/** The body of a POST that takes none: nothing, `{}` or `null` (with `emptyBodyIfNone`); a field is refused. */
export const NoFields = Type.Object(
  {},
  { additionalProperties: false, description: 'No fields: send no body, or {}' },
);

/**
 * On a route schema whose body may be left out: the document says so (@fastify/swagger marks every
 * body required; api/docs.ts reads this mark and removes it).
 */
export const OPTIONAL_BODY = { 'x-optional-body': true } as const;

export const ApiKeyCreate = Type.Object(
  {
    name: Type.Optional(Type.Union([Type.String(nameRules), Type.Null()])),
  },
  { additionalProperties: false, description: 'A new API key of the workspace', examples: [{ name: 'ci' }] },
);
export type ApiKeyCreate = Static<typeof ApiKeyCreate>;

const ApiKeyFields = {
  id: Type.String({ examples: ['key-mc1x2y3z-k3j4h5g6f7d8'] }),
  name: Type.Union([Type.String(), Type.Null()]),
  prefix: Type.String({ description: 'The first characters of the key', examples: ['eunha_Ab3dE9'] }),
  createdAt: Type.String({ format: 'date-time' }),
};
export const ApiKeyView = Type.Object(
  { ...ApiKeyFields, lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) },
  { description: 'An API key, without the key itself' },
);
export const ApiKeyCreated = Type.Object(
  {
    ...ApiKeyFields,
    key: Type.String({ description: 'The key. Shown this once; only its hash is stored.' }),
  },
  { description: 'A new API key: keep `key` now, it is never shown again' },
);
export const ApiKeyParams = Type.Object({
  workspace_id: WorkspaceId,
  key_id: Type.String({ maxLength: 200 }),
});
