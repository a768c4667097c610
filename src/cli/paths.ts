// Why: where the package's own files are, whether it runs from src/ (Node strips types) or from dist/.
import { fileURLToPath } from 'node:url';

/** The package root: src/cli/ and dist/cli/ are both two levels below it. */
export const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_BASES_DIR = fileURLToPath(new URL('../../kustomize/', import.meta.url));
export const CRDS_DIR = fileURLToPath(new URL('../../crds/', import.meta.url));
