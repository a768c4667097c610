// Why: where the package's own kustomize bases are, whether it runs from src/ (Node strips types) or from dist/.
import { fileURLToPath } from 'node:url';

/** The package's kustomize/: src/kustomize/ and dist/kustomize/ are both two levels below the package root. */
export const DEFAULT_BASES_DIR = fileURLToPath(new URL('../../kustomize/', import.meta.url));
