// Function URLs whose path the router cannot decode. Spin passes a function its path raw, and a
// percent escape that is not UTF-8 (`/fn/{id}/caf%E9.txt`) is a valid URL; Fastify's router
// refused it with a 400 before the ingress ran, so the function's owner saw neither a log nor a
// metric. Such a path is routed with its escapes escaped (`%25E9`); the ingress reads the URL as
// sent (`request.originalUrl`), so the function still gets it byte for byte.

const FN_PATH = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/?#]*)?\/fn\/[^/?#]+\//i;

/** Fastify's `rewriteUrl`: the URL unchanged, unless it is such a function URL. */
export function routableUrl(url: string): string {
  if (!url.includes('%')) return url;
  const head = FN_PATH.exec(url);
  if (!head) return url;
  const q = url.indexOf('?');
  const end = q < 0 ? url.length : q;
  const rest = url.slice(head[0].length, end);
  try {
    decodeURIComponent(rest);
    return url;
  } catch {
    return head[0] + rest.replace(/%/g, '%25') + url.slice(end);
  }
}
