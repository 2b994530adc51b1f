// The build module's public surface: the service the API and the composition root use, and the
// artifact helpers the deploy module needs to turn an image reference into verified files.

export { BuildService } from './service.js';
export { digestOfTask } from './artifact-collector.js';
export {
  buildBlobPrefixes,
  sourceDir,
  sourcePrefix,
  CANCELLED_ERROR,
  INTERRUPTED_ERROR,
  type BuildLogger,
  type BuildOutcome,
  type BuildServiceOptions,
  type BuiltArtifact,
  type PushSubmission,
  type ResolvedImage,
  type SourceChecker,
  type UploadSubmission,
} from './types.js';
export {
  ARTIFACT_SCHEMA,
  artifactPrefix,
  loadArtifact,
  manifestKey,
  storeArtifact,
  type ArtifactFile,
  type ArtifactManifest,
  type LoadedArtifact,
} from './artifact.js';
export { formatImageRef, parseImageRef, type LocalImageRef } from './image-ref.js';
export { DEFAULT_MAX_SOURCE_BYTES, ENTRY_FILE, readSource, type SourceFiles } from './source.js';
export { DEFAULT_ZIP_LIMITS, type ZipLimits } from './zip.js';
export { LOCAL_REGISTRY, DEFAULT_TAG, DEFAULT_WORKSPACE_ID } from './names.js';
