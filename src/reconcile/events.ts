// Why: handler outcomes become Kubernetes Events on the object, visible in `kubectl describe`.
import os from 'node:os';
import type { Api, KubeObject } from '../kube/api.ts';
import { scrub } from '../kubectl/scrub.ts';
import { truncate } from './conditions.ts';

export interface EventInfo {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type EventRecorder = (obj: KubeObject, info: EventInfo, signal?: AbortSignal) => Promise<void>;

/** Posts a core/v1 Event; failures are reported to `onError` and never fail the reconcile. */
export function createEventRecorder(api: Api, onError: (err: unknown) => void, component = 'kustomate'): EventRecorder {
  const instance = os.hostname();
  return async (obj, info, signal) => {
    const namespace = obj.metadata.namespace ?? 'default';
    const now = new Date().toISOString();
    try {
      await api.request('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`, {
        signal,
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: `${obj.metadata.name}.`, namespace },
          involvedObject: {
            apiVersion: obj.apiVersion,
            kind: obj.kind,
            name: obj.metadata.name,
            namespace,
            uid: obj.metadata.uid,
            resourceVersion: obj.metadata.resourceVersion,
          },
          type: info.type,
          reason: info.reason,
          // Event messages are limited to 1 KiB by API validation.
          message: truncate(scrub(info.message), 1024),
          source: { component },
          reportingComponent: component,
          reportingInstance: instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      onError(err);
    }
  };
}
