// The S3 blob store could not be used at start-up (bucket, endpoint or credentials). Its own
// module so that what reports it need not load the AWS SDK, which only an S3 start imports.

export class S3OpenError extends Error {
  override name = 'S3OpenError';
}
