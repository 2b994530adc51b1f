// What the command prints is partly written by functions: their printed lines, tracebacks and
// answers, and error messages that quote them. A terminal obeys control characters in it: a
// review's function set the window title, erased a line and printed a forged one in its place,
// wrote the clipboard (OSC 52) and disguised a link (OSC 8) in the terminal of whoever read its
// logs. So every control character but tab and newline is shown as its `\uXXXX` escape, which is
// also a valid escape inside the JSON that `--json` prints (where JSON.stringify leaves the C1
// range and DEL as they are).

// C0 but tab and line feed, DEL, C1, and the line and paragraph separators some terminals break on.
// eslint-disable-next-line no-control-regex -- finding them is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;

export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
