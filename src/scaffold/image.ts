// Why: one name for kustomate's own image, shared by `npm run image` (which tags it) and `kustomate new` (whose Dockerfile takes kubectl from it).

/** The image `npm run image` builds from a kustomate checkout: localhost/kustomate, tagged with the package's version. */
export function kustomateImage(version: string): string {
  return `localhost/kustomate:${version}`;
}
