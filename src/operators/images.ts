// Why: an image in a custom resource's spec (a Database's, a MySQL's) may only come from an allowed repository:
// whoever can create one must not be able to run any image they like (the operator's --allowed-images sets the list).

/** The seed's two images' repositories. */
export const DEFAULT_ALLOWED_IMAGES = ['docker.io/library/mongo', 'docker.io/library/mysql'];

let allowed = [...DEFAULT_ALLOWED_IMAGES];

/** The repositories (or prefixes ending in `/`: a registry, an organisation) images may come from. */
export function allowedImages(): readonly string[] {
  return allowed;
}

/** Sets the allowlist (`--allowed-images`); an entry must be a repository or a prefix ending in `/`. */
export function setAllowedImages(list: string[] | undefined): void {
  if (!list?.length) {
    allowed = [...DEFAULT_ALLOWED_IMAGES];
    return;
  }
  const bad = list.filter((e) => !/^[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(\/[a-z0-9._-]+)*\/?$/.test(e));
  if (bad.length) throw new Error(`--allowed-images: not a repository or a prefix ending in /: ${bad.join(', ')}`);
  allowed = list.map((e) => repositoryOf(e) ?? e);
}

/**
 * An image reference's repository, as the container runtime reads it: a first part with a `.` or `:` or that is
 * `localhost` is a registry, else the image comes from docker.io, where one-part names live under `library/`
 * (https://github.com/distribution/reference). Undefined for something that is not an image reference.
 */
export function repositoryOf(image: string): string | undefined {
  const ref = /^(?<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*)(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/.exec(image);
  const name = ref?.groups?.name;
  if (!name) return undefined;
  const parts = name.split('/');
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) return name;
  return `docker.io/${parts.length === 1 ? 'library/' : ''}${name}`;
}

/** The problems of an image field: not a reference, too long, or from a repository not on the allowlist. */
export function imageProblems(image: unknown, field: string): string[] {
  if (typeof image !== 'string' || image.length === 0 || image.length > 255) return [`${field} must be an image reference of 1 to 255 characters`];
  const repo = repositoryOf(image);
  if (!repo) return [`${field} is not an image reference (such as mysql:8.0)`];
  const ok = allowed.some((a) => (a.endsWith('/') ? repo.startsWith(a) : repo === a));
  return ok ? [] : [`${field}: images from ${repo} are not allowed (allowed: ${allowed.join(', ')}; the operator's --allowed-images sets this)`];
}
