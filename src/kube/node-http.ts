// Why: node:http imported as an ES module builds its whole namespace, and so runs its lazy getters, which load
// node's bundled fetch and WebSocket client (undici: about 8 MB resident) that kustomate never uses. Required as
// CommonJS, only what is used is loaded. Types still come from `import type ... from 'node:http'`.
import { createRequire } from 'node:module';
import type httpModule from 'node:http';

export const http = createRequire(import.meta.url)('node:http') as typeof httpModule;
