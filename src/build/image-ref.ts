// Image references: those of artifacts kept by the platform ("local" registry),
//   local/{workspace}/{app}:{tag}@sha256:{digest}
// and, for manifests, any OCI reference (checkImageRef).
// The digest is the authority (a deployment points at content, never at a mutable name); the tag
// is a label, and the contract's default tag "sha256" means "the first 12 hex digits".

import { invalid } from '../core/errors.js';
import { DEFAULT_TAG, LOCAL_REGISTRY, TAG_PATTERN, checkTag } from './names.js';
import { quote } from '../core/validate.js';

export interface LocalImageRef {
  registry: typeof LOCAL_REGISTRY;
  workspaceId: string;
  app: string;
  /** null when the reference had no tag. */
  tag: string | null;
  /** 64 lower-case hex digits. */
  digest: string;
}

const DIGEST = /^[0-9a-f]{64}$/;
const LOCAL_REF = new RegExp(
  `^local/([A-Za-z0-9][A-Za-z0-9_-]{0,99})/([a-z0-9][a-z0-9-]{0,62})(?::(${TAG_PATTERN}))?@sha256:([0-9a-f]{64})$`,
);

export const SHORT_DIGEST_LENGTH = 12;

/** The tag as printed: "sha256" (the contract's default) becomes the digest's first 12 digits. */
export function effectiveTag(tag: string, digest: string): string {
  return tag === DEFAULT_TAG ? digest.slice(0, SHORT_DIGEST_LENGTH) : checkTag(tag);
}

export function formatImageRef(workspaceId: string, app: string, tag: string, digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`not a sha256 hex digest: ${digest}`);
  return `${LOCAL_REGISTRY}/${workspaceId}/${app}:${effectiveTag(tag, digest)}@sha256:${digest}`;
}

/**
 * Parses a local reference, with or without its tag; the `@sha256:` digest is required. Anything
 * else is VALIDATION_ERROR on 'image_ref' saying what was expected.
 */
export function parseImageRef(ref: string, field = 'image_ref'): LocalImageRef {
  const trimmed = ref.trim();
  const match = LOCAL_REF.exec(trimmed);
  if (match) {
    const [, workspaceId, app, tag, digest] = match;
    return {
      registry: LOCAL_REGISTRY,
      workspaceId: workspaceId as string,
      app: app as string,
      tag: tag ?? null,
      digest: digest as string,
    };
  }
  const expected = 'local/{workspace_id}/{app}[:tag]@sha256:{64 hex digits}';
  if (!trimmed.startsWith(`${LOCAL_REGISTRY}/`)) {
    throw invalid(
      field,
      `only images built by this platform can be used (${expected}); pulling from external registries is not supported yet`,
    );
  }
  if (!trimmed.includes('@sha256:')) {
    throw invalid(field, `a local image reference must pin its digest: ${expected}`);
  }
  throw invalid(field, `malformed image reference; expected ${expected}`);
}

// The reference grammar of the OCI distribution spec (docker/distribution's reference package):
// [host[:port]/]path[:tag][@algorithm:hex]. Path components must be lower-case: registries refuse
// others. Separators and name characters are disjoint, so backtracking stays short.
const HOST_PART = '(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)';
const HOST = `(?:${HOST_PART}(?:\\.${HOST_PART})*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]+)?`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const OCI_REF = new RegExp(
  `^(?:${HOST}/)?${PATH_PART}(?:/${PATH_PART})*` +
    `(?::${TAG_PATTERN})?` +
    '(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,})?$',
);

/**
 * The image a manifest may name: what this platform builds (local/{ws}/{app}:{tag}@sha256:…, whose
 * workspace ids may hold capitals) or any OCI reference, e.g. registry.example.com/ns/app:1.0.
 * The YAML would quote anything, but a reference with a newline or an emoji can never be pulled.
 */
export function checkImageRef(raw: string, field = 'image_ref'): string {
  const ref = raw.trim();
  try {
    parseImageRef(ref, field);
    return ref;
  } catch {
    // Not a local reference; it may still be any registry's.
  }
  if (!OCI_REF.test(ref)) {
    throw invalid(
      field,
      `${quote(raw)} is not an image reference; expected [registry[:port]/]name[:tag][@sha256:digest] ` +
        'with a lower-case name, e.g. registry.example.com/team/app:1.0',
    );
  }
  return ref;
}
