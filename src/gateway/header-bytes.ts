// HTTP header values are bytes; Spin gives a function and takes back str, as UTF-8. Node reads
// and writes header values as Latin-1 strings (one char per byte), so a non-ASCII value is
// re-read as UTF-8 on the way in and written as its UTF-8 bytes on the way out: "café" arrived
// as "cafÃ©", and "한" in a response was refused.

const NON_ASCII = /[\u0080-\uffff]/;

/** A request header value as Node gives it → the text the function sees (bad bytes → U+FFFD). */
export function headerText(latin1: string): string {
  return NON_ASCII.test(latin1) ? Buffer.from(latin1, 'latin1').toString('utf8') : latin1;
}

/** A response header value the function set → the Latin-1 string Node writes as its UTF-8 bytes. */
export function headerBytes(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text;
}
