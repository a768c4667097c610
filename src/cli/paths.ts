// Why: where the package's own files are, whether it runs from src/ (Node strips types) or from dist/.
import { fileURLToPath } from 'node:url';

/** The package's kustomize/: src/cli/ and dist/cli/ are both two levels below the package root. */
export const DEFAULT_BASES_DIR = fileURLToPath(new URL('../../kustomize/', import.meta.url));
