// Reading a build upload's multipart form, in preValidation (so the guard sees its workspace_id
// before the handler runs): a place among the uploads read at once (upload-slots.ts), the file
// refused as soon as it passes its cap, the whole form within a deadline (a form refused before its
// end has its connection closed by the error handler: close-unread.ts). The handler reads the form
// back with formOf().

import type { MultipartFile } from '@fastify/multipart';
import type { FastifyRequest, FastifySchemaCompiler } from 'fastify';
import type { TObject } from 'typebox';
import { callerOf } from '../auth/guard.js';
import { EunhaError, invalid } from '../core/errors.js';
import { callerGone, type UploadSlots } from './upload-slots.js';
import { validatorCompiler } from './validation.js';

/**
 * The multipart body is read by readForm (in preValidation, so the guard can see its workspace_id
 * before the handler runs); the documented body schema must not be validated, and the parsed form
 * must be kept.
 */
export const multipartValidator: FastifySchemaCompiler<unknown> = (route) =>
  route.httpPart === 'body' ? (data: unknown) => ({ value: data }) : validatorCompiler(route);

/** How long a form may take to arrive once it has its place. */
export const UPLOAD_READ_MS = 30_000;

/** How long an upload may wait for a slot, and take to arrive (tests shorten them). */
export interface UploadTimes {
  waitMs?: number;
  readMs?: number;
}

/**
 * The form, or REQUEST_TIMEOUT once it has taken UPLOAD_READ_MS to arrive, or CLIENT_CLOSED as
 * soon as the caller is gone (a read of a closed request waited out the whole deadline, and
 * its slot with it).
 */
async function readFormInTime(
  req: FastifyRequest,
  allowed: readonly string[],
  maxBytes: number,
  readMs: number,
): Promise<UploadForm> {
  // Destroyed also after a body read to its end (a JSON body Fastify parsed): that caller waits.
  if (req.raw.destroyed && !req.raw.complete) throw callerGone();
  let timer: NodeJS.Timeout | undefined;
  let gone = (): void => {};
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EunhaError('REQUEST_TIMEOUT', `the upload did not arrive within ${readMs / 1000} s`, {
            limit: readMs,
          }),
        ),
      readMs,
    );
    // 'close' also follows a body read to its end: only one cut short means the caller left.
    gone = () => {
      if (!req.raw.complete) reject(callerGone());
    };
    req.raw.once('close', gone);
  });
  const reading = readForm(req, allowed, maxBytes);
  reading.catch(() => {}); // when the deadline wins, how the read ends is of no interest
  try {
    return await Promise.race([reading, stopped]);
  } finally {
    clearTimeout(timer);
    req.raw.off('close', gone);
  }
}

/** Parses the form before validation and the guard; the handler reads it back from req.body. */
export const parseForm =
  (schema: TObject, maxBytes: number, slots: UploadSlots, readMs: number) =>
  async (req: FastifyRequest): Promise<void> => {
    const allowed = Object.keys(schema.properties).filter((name) => name !== 'file');
    const release = await slots.take(callerOf(req), req.raw);
    let form;
    try {
      form = await readFormInTime(req, allowed, maxBytes, readMs);
    } finally {
      release();
    }
    checkLengths(form, schema);
    req.body = { ...Object.fromEntries(form.fields), [FORM]: form };
  };

/**
 * The form is never run through the JSON validator (multipartValidator), so the documented
 * maxLength of each text field is enforced here, from the same schema the OpenAPI document shows.
 * Lengths count code points, as Ajv does for the JSON /push.
 */
function checkLengths(form: UploadForm, schema: TObject): void {
  for (const [name, value] of form.fields) {
    const max = (schema.properties[name] as { maxLength?: unknown } | undefined)?.maxLength;
    if (typeof max === 'number' && [...value].length > max) {
      throw invalid(name, `${name} must be at most ${max} characters`, { limit: max });
    }
  }
}

const FORM = Symbol('form');

/** The longest upload file name taken, in UTF-8 bytes (NAME_MAX on Linux). */
const MAX_FILENAME_BYTES = 255;

export const formOf = (req: FastifyRequest): UploadForm => {
  const form = (req.body as { [FORM]?: UploadForm } | undefined)?.[FORM];
  if (!form) throw invalid('file', 'file is required (multipart field "file", a .py or a .zip)');
  return form;
};

export interface UploadForm {
  filename: string;
  data: Buffer;
  fields: Map<string, string>;
}

/** Multipart error codes of @fastify/multipart and busboy, as the user's errors. */
function formError(err: unknown, maxBytes: number): EunhaError {
  if (err instanceof EunhaError) return err;
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new EunhaError('PAYLOAD_TOO_LARGE', `file is larger than the ${maxBytes}-byte cap`, {
        field: 'file',
        limit: maxBytes,
      });
    case 'FST_FILES_LIMIT':
      return invalid('file', 'send exactly one file, in the field "file"');
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return invalid('body', 'too many form fields');
    case 'FST_PROTO_VIOLATION':
      return invalid('body', 'forbidden form field name');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return invalid('body', 'a form field declared as JSON is not valid JSON');
  }
  const message = err instanceof Error ? err.message : String(err);
  return invalid('body', `malformed multipart body: ${message}`);
}

/**
 * The file part's bytes, refused as soon as they pass the cap: @fastify/multipart's toBuffer()
 * read the rest of an over-cap part to its end before it said so, and a review's chunked part
 * that never ended was read for 121 s (57 GB) until the request timeout.
 */
async function fileOf(part: MultipartFile): Promise<Buffer> {
  const tooLarge = () => Object.assign(new Error('file too large'), { code: 'FST_REQ_FILE_TOO_LARGE' });
  // busboy stops passing data on at the cap and says so with 'limit'; the part itself goes on.
  let onLimit = (): void => {};
  const limited = new Promise<never>((_, reject) => {
    onLimit = () => reject(tooLarge());
  });
  part.file.once('limit', onLimit);
  const chunks: Buffer[] = [];
  // Iterating ends with an error when the form breaks off (busboy destroys the part).
  const collect = (async () => {
    for await (const chunk of part.file) chunks.push(chunk as Buffer);
  })();
  collect.catch(() => {}); // when the cap wins the race, its end is of no interest
  try {
    await Promise.race([collect, limited]);
  } finally {
    part.file.off('limit', onLimit);
  }
  if (part.file.truncated) throw tooLarge();
  return Buffer.concat(chunks);
}

async function readForm(
  req: FastifyRequest,
  allowed: readonly string[],
  maxBytes: number,
): Promise<UploadForm> {
  if (!req.isMultipart()) {
    throw new EunhaError(
      'UNSUPPORTED_MEDIA_TYPE',
      'send multipart/form-data with the upload in a field named "file"',
      { field: 'content-type' },
    );
  }
  const fields = new Map<string, string>();
  let file: { filename: string; data: Buffer } | undefined;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          throw invalid(
            part.fieldname,
            `unexpected file field '${part.fieldname}'; the upload goes in "file"`,
          );
        }
        // Longer than any file system takes; past busboy's header limit the name arrives cut,
        // its `.py` gone, and was refused as the wrong kind of file, quoting 80 KB of it.
        if (Buffer.byteLength(part.filename) > MAX_FILENAME_BYTES) {
          throw invalid('file', `the file's name is longer than ${MAX_FILENAME_BYTES} bytes`);
        }
        file = { filename: part.filename, data: await fileOf(part) };
        continue;
      }
      // `curl -F 'file=<app.py'` sends the file's text as a field, without a file name.
      if (part.fieldname === 'file') {
        throw invalid(
          'file',
          'file must be sent as a file, with a file name (curl -F file=@app.py), not as a text field',
        );
      }
      if (!allowed.includes(part.fieldname)) {
        throw invalid(part.fieldname, `unknown form field '${part.fieldname}'`);
      }
      if (part.valueTruncated || typeof part.value !== 'string') {
        throw invalid(part.fieldname, `${part.fieldname} is too long`);
      }
      if (fields.has(part.fieldname)) throw invalid(part.fieldname, `${part.fieldname} was sent twice`);
      fields.set(part.fieldname, part.value);
    }
  } catch (err) {
    throw formError(err, maxBytes);
  }
  if (!file) throw invalid('file', 'file is required (multipart field "file", a .py or a .zip)');
  return { ...file, fields };
}

/** A form field, with '' treated as absent (HTML forms send empty inputs). */
export const field = (form: UploadForm, name: string): string | undefined => {
  const value = form.fields.get(name)?.trim();
  return value === '' ? undefined : value;
};
