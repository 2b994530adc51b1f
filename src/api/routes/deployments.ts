// Deploying: the seed's POST /api/v1/deploy and /api/v1/scaffold, and Eunha's one-call path
// POST /api/workspaces/{ws}/functions/{fn}/deployments with listing and instant activation.

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ANY_KEY, functionIdRequired, type Scopes } from '../../auth/policy.js';
import {
  DeployRequest,
  DeployResponse,
  Deployment,
  DeploymentParams,
  ScaffoldRequest,
  ScaffoldResponse,
} from '../../core/deploy-schemas.js';
import {
  CHANGED_SINCE,
  ErrorBody,
  FunctionParams,
  IfMatchHeaders,
  NoFields,
  OPTIONAL_BODY,
  OUT_OF_STORAGE,
} from '../../core/schemas.js';
import { parseVersion, type DeploymentService } from '../../deploy/deployments.js';
import { appNameFromImage, spinAppYaml } from '../../deploy/spinapp.js';
import { emptyBodyIfNone } from '../json-body.js';

const errors = { 400: ErrorBody, 404: ErrorBody, 500: ErrorBody };

export async function deploymentRoutes(
  base: FastifyInstance,
  deployments: DeploymentService,
  scope: Scopes,
): Promise<void> {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/api/workspaces/:workspace_id/functions/:function_id/deployments',
    {
      config: { auth: scope.workspaceParam },
      // No body; a field sent is refused rather than ignored (one might expect it to mean something).
      preValidation: emptyBodyIfNone,
      schema: {
        ...OPTIONAL_BODY,
        tags: ['Deployments'],
        summary: 'Build the function’s current code and deploy it',
        description:
          'Creates the next deployment version (artifact digest + config snapshot), loads it in the runtime and makes it active. With `If-Match` (the function’s `ETag`), only the code and settings that tag names are deployed: a function changed since is refused with 412.',
        params: FunctionParams,
        headers: IfMatchHeaders,
        body: NoFields,
        response: { 201: Deployment, 412: CHANGED_SINCE, 507: OUT_OF_STORAGE, ...errors },
      },
    },
    async (req, reply) =>
      reply
        .code(201)
        .send(
          await deployments.deployCurrent(
            req.params.workspace_id,
            req.params.function_id,
            req.headers['if-match'],
          ),
        ),
  );
  app.get(
    '/api/workspaces/:workspace_id/functions/:function_id/deployments',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags: ['Deployments'],
        summary: 'List deployments, newest first',
        params: FunctionParams,
        response: { 200: Type.Array(Deployment), ...errors },
      },
    },
    async (req) => deployments.list(req.params.workspace_id, req.params.function_id),
  );
  app.post(
    '/api/workspaces/:workspace_id/functions/:function_id/deployments/:version/activate',
    {
      config: { auth: scope.workspaceParam },
      preValidation: emptyBodyIfNone,
      schema: {
        ...OPTIONAL_BODY,
        tags: ['Deployments'],
        summary: 'Make a deployment version active (roll back or forward, no rebuild)',
        params: DeploymentParams,
        body: NoFields,
        // 409: the version's artifact is missing from the blob store (restored from a backup).
        response: { 200: Deployment, 409: ErrorBody, ...errors },
      },
    },
    async (req) =>
      deployments.activate(req.params.workspace_id, req.params.function_id, parseVersion(req.params.version)),
  );

  app.delete(
    '/api/workspaces/:workspace_id/functions/:function_id/deployments/:version',
    {
      config: { auth: scope.workspaceParam },
      schema: {
        tags: ['Deployments'],
        summary: 'Delete an inactive deployment version',
        description:
          'Removes the version and, unless another deployment or a build task names it, its artifact: what makes room in a workspace at its storage quota. The active version cannot be deleted (409); its number is never given again.',
        params: DeploymentParams,
        response: { 204: Type.Null({ description: 'Deleted' }), 409: ErrorBody, ...errors },
      },
    },
    async (req, reply) => {
      await deployments.remove(
        req.params.workspace_id,
        req.params.function_id,
        parseVersion(req.params.version),
      );
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/v1/deploy',
    {
      // The function named in the body decides the workspace; its image must be of that workspace too.
      config: { auth: scope.functionField },
      schema: {
        tags: ['Builds'],
        summary: 'Deploy a built image',
        description:
          'Deploys to the embedded runtime: `function_id` is required there (the image is bound to that function, whose invocationUrl, lastDeployed and status are set). Kubernetes fields are accepted and echoed.',
        body: DeployRequest,
        response: { 200: DeployResponse, ...errors },
      },
    },
    async (req) => {
      const b = req.body;
      if (!b.function_id) throw functionIdRequired();
      const d = await deployments.deployImage(b.image_ref, b.function_id);
      const appName = b.app_name ?? appNameFromImage(b.image_ref);
      return {
        app_name: appName,
        namespace: b.namespace,
        service_name: appName,
        service_status: 'found',
        endpoint: d.invocationUrl,
        enable_autoscaling: b.enable_autoscaling ?? true,
        use_spot: b.use_spot ?? true,
        error: null,
        version: d.version,
        digest: d.digest,
      };
    },
  );

  app.post(
    '/api/v1/scaffold',
    {
      // Pure text generation from the request: no stored data is read or written.
      config: { auth: ANY_KEY },
      schema: {
        tags: ['Builds'],
        summary: 'A SpinApp manifest (core.spinkube.dev/v1alpha1) for an image',
        body: ScaffoldRequest,
        response: { 200: ScaffoldResponse, 400: ErrorBody },
      },
    },
    async (req) => {
      const b = req.body;
      const yaml = spinAppYaml({
        imageRef: b.image_ref,
        appName: b.app_name ?? appNameFromImage(b.image_ref),
        namespace: b.namespace ?? undefined,
        component: b.component ?? undefined,
        replicas: b.replicas ?? 1,
        enableAutoscaling: b.enable_autoscaling ?? false,
        useSpot: b.use_spot ?? false,
        functionId: b.function_id ?? undefined,
      });
      return { success: true, yaml_content: yaml, file_path: null, error: null };
    },
  );
}
