// Names that end up inside image references and blob keys: app names, tags, workspace ids and the
// registry. They are normalised or refused here, once, so a reference Eunha prints can always be
// parsed back (image-ref.ts).

import { createHash } from 'node:crypto';
import { invalid } from '../core/errors.js';

export const MAX_APP_NAME_LENGTH = 63;
export const DEFAULT_TAG = 'sha256';
export const LOCAL_REGISTRY = 'local';
export const DEFAULT_WORKSPACE_ID = 'ws-default';

/** OCI tag grammar (also inside the image reference patterns of image-ref.ts). */
export const TAG_PATTERN = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const TAG = new RegExp(`^${TAG_PATTERN}$`);
/** Workspace ids are `ws-` + 8 characters, plus the seed's `ws-default`; kept blob-key-safe. */
const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/**
 * Lower-cases and keeps [a-z0-9-] (anything else becomes '-', runs collapse, ends trimmed), so a
 * file called "My Handler_v2.py" gives the app "my-handler-v2". Returns '' when nothing is left.
 */
export function sanitizeAppName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, MAX_APP_NAME_LENGTH)
    .replace(/^-+|-+$/g, '');
}

/**
 * A name written only in other scripts ("함수", "функция") keeps nothing once sanitised: it becomes
 * `app-` and 8 hex digits of its sha256, so that two such names stay two apps. A Korean team's
 * console sends its function names as they are; they were refused.
 */
function appNameOf(raw: string): string {
  const name = sanitizeAppName(raw);
  if (name !== '' || !/[\p{L}\p{N}]/u.test(raw)) return name;
  return `app-${createHash('sha256').update(raw.normalize('NFC')).digest('hex').slice(0, 8)}`;
}

/**
 * The app name of a build: the one given (sanitised; refused if it has no letter or digit in any
 * script) or else the upload's stem, or "app" when even that has none.
 */
export function resolveAppName(given: string | undefined, fallbackStem: string): string {
  if (given !== undefined && given.trim() !== '') {
    const name = appNameOf(given);
    if (name === '') throw invalid('app_name', 'app_name must contain a letter or a digit');
    return name;
  }
  return appNameOf(fallbackStem) || 'app';
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) {
    throw invalid('tag', 'tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} (an OCI tag)');
  }
  return tag;
}

export function checkWorkspaceId(id: string, field = 'workspace_id'): string {
  if (!WORKSPACE_ID.test(id)) throw invalid(field, `'${id}' is not a workspace id`);
  return id;
}

/** True for the built-in registry: the artifact stays in the platform's blob store. */
export function isLocalRegistry(registryUrl: string): boolean {
  return registryUrl.trim().toLowerCase() === LOCAL_REGISTRY;
}

export const EXTERNAL_REGISTRY_UNSUPPORTED =
  "pushing to external OCI registries is not supported yet; use registry_url 'local'";
