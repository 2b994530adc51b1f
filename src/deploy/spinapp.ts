// SpinApp manifests (SpinKube, core.spinkube.dev/v1alpha1) for POST /api/v1/scaffold and the
// Kubernetes target: the seed's labels (app.kubernetes.io/managed-by; pod labels faas=true and
// function_id), replicas only when autoscaling is off, and its spot preference. The v1alpha1 CRD has
// no tolerations or affinity fields, so the spot rule travels as pod annotations that a cluster's
// admission policy can turn into scheduling rules; the seed's older operator API is not emitted.

import { stringify } from 'yaml';
import { checkImageRef } from '../build/image-ref.js';
import { invalid } from '../core/errors.js';
import { quote } from '../core/validate.js';

export interface SpinAppInput {
  imageRef: string;
  appName: string;
  namespace?: string | undefined;
  component?: string | undefined;
  replicas: number;
  enableAutoscaling: boolean;
  useSpot: boolean;
  functionId?: string | undefined;
  serviceAccount?: string | undefined;
  cpuLimit?: string | undefined;
  memoryLimit?: string | undefined;
  cpuRequest?: string | undefined;
  memoryRequest?: string | undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUANTITY =
  /^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const SPOT_ANNOTATIONS = {
  'eunha.dev/spot': 'preferred',
  'eunha.dev/tolerations': JSON.stringify([
    { key: 'kubernetes.azure.com/scalesetpriority', operator: 'Equal', value: 'spot', effect: 'NoSchedule' },
    { key: 'eks.amazonaws.com/capacityType', operator: 'Equal', value: 'SPOT', effect: 'NoSchedule' },
  ]),
};

/** A Kubernetes name from anything: lower-case, [a-z0-9-], at most 63 characters. */
export function dnsName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

/** The app name the seed derived from an image reference: its repository's last path segment. */
export function appNameFromImage(imageRef: string): string {
  const withoutDigest = imageRef.split('@')[0] ?? imageRef;
  const lastSegment = withoutDigest.split('/').pop() ?? withoutDigest;
  return dnsName(lastSegment.split(':')[0] ?? lastSegment) || 'spin-app';
}

function quantity(field: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!QUANTITY.test(v)) throw invalid(field, `${quote(v)} is not a Kubernetes quantity (e.g. 500m, 128Mi)`);
  return v;
}

export function spinAppManifest(input: SpinAppInput): Record<string, unknown> {
  const image = checkImageRef(input.imageRef);
  const name = dnsName(input.appName);
  if (!name || !DNS_LABEL.test(name))
    throw invalid('app_name', `${quote(input.appName)} cannot be a Kubernetes name`);
  if (input.namespace !== undefined && !DNS_LABEL.test(input.namespace)) {
    throw invalid('namespace', `${quote(input.namespace)} is not a Kubernetes namespace name`);
  }
  // Spin's component ids are kebab-case (spin.toml v2); the operator runs only components that exist.
  if (input.component !== undefined && !/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(input.component)) {
    throw invalid(
      'component',
      `${quote(input.component)} is not a Spin component id (lower-case letters, digits and single hyphens, starting with a letter)`,
    );
  }
  if (input.functionId !== undefined && !LABEL_VALUE.test(input.functionId)) {
    throw invalid('function_id', `${quote(input.functionId)} cannot be a label value`);
  }
  if (!Number.isInteger(input.replicas) || input.replicas < 1)
    throw invalid('replicas', 'replicas must be an integer ≥ 1');
  const limits = Object.fromEntries(
    [
      ['cpu', quantity('cpu_limit', input.cpuLimit)],
      ['memory', quantity('memory_limit', input.memoryLimit)],
    ].filter(([, v]) => v !== undefined),
  );
  const requests = Object.fromEntries(
    [
      ['cpu', quantity('cpu_request', input.cpuRequest)],
      ['memory', quantity('memory_request', input.memoryRequest)],
    ].filter(([, v]) => v !== undefined),
  );
  const spec: Record<string, unknown> = {
    image,
    executor: 'containerd-shim-spin',
    enableAutoscaling: input.enableAutoscaling,
    podLabels: { faas: 'true', ...(input.functionId ? { function_id: input.functionId } : {}) },
  };
  // The seed: with autoscaling on, the autoscaler owns the replica count.
  if (!input.enableAutoscaling) spec.replicas = input.replicas;
  if (input.component) spec.components = [input.component];
  if (input.serviceAccount) spec.serviceAccountName = input.serviceAccount;
  if (Object.keys(limits).length || Object.keys(requests).length) {
    spec.resources = {
      ...(Object.keys(limits).length ? { limits } : {}),
      ...(Object.keys(requests).length ? { requests } : {}),
    };
  }
  if (input.useSpot) spec.podAnnotations = { ...SPOT_ANNOTATIONS };
  return {
    apiVersion: 'core.spinkube.dev/v1alpha1',
    kind: 'SpinApp',
    metadata: {
      name,
      ...(input.namespace ? { namespace: input.namespace } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'eunha', 'app.kubernetes.io/name': name },
    },
    spec,
  };
}

export function spinAppYaml(input: SpinAppInput): string {
  return stringify(spinAppManifest(input));
}
