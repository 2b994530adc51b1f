// Schemas of the deploy side: the seed's snake_case /api/v1/deploy and /api/v1/scaffold objects,
// and Eunha's deployments (numbered versions of a function).

import { Type } from 'typebox';

const Str = (description: string, examples?: string[]) =>
  Type.String({ description, ...(examples ? { examples } : {}) });
const OptStr = (description: string, examples?: string[]) =>
  Type.Optional(Type.Union([Str(description, examples), Type.Null()]));

export const DeployRequest = Type.Object(
  {
    namespace: Type.String({
      minLength: 1,
      maxLength: 63,
      description: 'Kubernetes namespace (kept for the SpinApp target)',
      examples: ['default'],
    }),
    image_ref: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'The image_url of a completed build task',
      examples: ['local/ws-a1b2c3d4/hello:0123456789ab@sha256:0123…'],
    }),
    app_name: OptStr('SpinApp name (default: from the image)'),
    replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    enable_autoscaling: Type.Optional(Type.Boolean({ default: true })),
    use_spot: Type.Optional(Type.Boolean({ default: true })),
    service_account: OptStr('ServiceAccount'),
    cpu_limit: OptStr('CPU limit', ['500m']),
    memory_limit: OptStr('Memory limit', ['128Mi']),
    cpu_request: OptStr('CPU request', ['100m']),
    memory_request: OptStr('Memory request', ['64Mi']),
    custom_tolerations: Type.Optional(
      Type.Union([Type.Array(Type.Record(Type.String(), Type.Unknown())), Type.Null()]),
    ),
    custom_affinity: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
    function_id: OptStr('The function to serve this image (its invocationUrl is set)', ['fn-e5f6g7h8']),
  },
  { additionalProperties: false, description: 'Deploy a built image' },
);

export const DeployResponse = Type.Object({
  app_name: Type.Union([Type.String(), Type.Null()]),
  namespace: Type.Union([Type.String(), Type.Null()]),
  service_name: Type.Union([Type.String(), Type.Null()]),
  service_status: Type.String({ description: 'found | pending | not_found' }),
  endpoint: Type.Union([Type.String(), Type.Null()], { description: 'The public invocation URL' }),
  enable_autoscaling: Type.Union([Type.Boolean(), Type.Null()]),
  use_spot: Type.Union([Type.Boolean(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
  version: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Eunha: the deployment version created',
  }),
  digest: Type.Union([Type.String(), Type.Null()], { description: 'Eunha: the artifact digest deployed' }),
});

export const ScaffoldRequest = Type.Object(
  {
    image_ref: Type.String({
      minLength: 1,
      maxLength: 512,
      description:
        'An OCI image reference ([registry[:port]/]name[:tag][@sha256:digest]), e.g. the image_url of a build',
      examples: ['registry.example.com/team/hello:v1'],
    }),
    component: OptStr('Component to run'),
    replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 1 })),
    output_path: OptStr('Accepted for compatibility; the server never writes client-chosen paths'),
    app_name: OptStr('SpinApp name (default: from the image)'),
    namespace: OptStr('Namespace'),
    enable_autoscaling: Type.Optional(Type.Boolean({ default: false })),
    use_spot: Type.Optional(Type.Boolean({ default: false })),
    function_id: OptStr('Adds the function_id pod label'),
  },
  { additionalProperties: false },
);

export const ScaffoldResponse = Type.Object({
  success: Type.Boolean(),
  yaml_content: Type.Union([Type.String(), Type.Null()]),
  file_path: Type.Union([Type.String(), Type.Null()]),
  error: Type.Union([Type.String(), Type.Null()]),
});

export const Deployment = Type.Object(
  {
    workspaceId: Type.String(),
    functionId: Type.String(),
    version: Type.Integer(),
    digest: Type.String({ description: 'sha256 of the artifact manifest' }),
    imageRef: Type.String(),
    config: Type.Object({
      runtime: Type.String(),
      memory: Type.Integer(),
      timeout: Type.Integer(),
      minWarm: Type.Optional(Type.Integer()),
      maxInstances: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
      allowedOutboundHosts: Type.Optional(Type.Array(Type.String())),
      environmentVariables: Type.Record(Type.String(), Type.String()),
      secretEnvironmentVariables: Type.Record(Type.String(), Type.String(), {
        description: 'Names; every value is "********"',
      }),
    }),
    createdAt: Type.String({ format: 'date-time' }),
    active: Type.Boolean(),
    invocationUrl: Type.String(),
  },
  { description: 'A numbered version of a function: artifact digest + the config it runs with' },
);

export const DeploymentParams = Type.Object({
  workspace_id: Type.String(),
  function_id: Type.String(),
  version: Type.String({
    pattern: '^[1-9][0-9]{0,8}$',
    'x-pattern-message': 'must be a version number, 1–999999999',
    description: 'Deployment version (1, 2, …)',
  }),
});
