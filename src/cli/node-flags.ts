// Why: the node flags kustomate's own scripts start the operator with; V8 reads them only when the process starts.
/** A small young generation: an operator holds little short-lived data, and a large one only raises resident memory. */
export const NODE_FLAGS = ['--max-semi-space-size=1'];
