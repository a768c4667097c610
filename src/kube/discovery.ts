// Why: from an object's apiVersion and kind to its REST path, by asking the API server's discovery endpoints
// (https://kubernetes.io/docs/concepts/overview/kubernetes-api/#discovery-api), cached per group version.
import { ApiError, type Api, type ResourceRef } from './api.ts';

interface ResourceList {
  resources: Array<{ name: string; kind: string; namespaced: boolean }>;
}

export class Discovery {
  private readonly api: Api;
  private readonly lists = new Map<string, Promise<ResourceList | undefined>>();

  constructor(api: Api) {
    this.api = api;
  }

  private list(apiVersion: string, fresh: boolean): Promise<ResourceList | undefined> {
    let cached = this.lists.get(apiVersion);
    if (!cached || fresh) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      cached = this.api.request<ResourceList>('GET', path).catch((err) => {
        this.lists.delete(apiVersion);
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      });
      this.lists.set(apiVersion, cached);
    }
    return cached;
  }

  /** The resource for a kind (subresources aside), or undefined when the API server serves no such kind. */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceRef | undefined> {
    const find = (list: ResourceList | undefined) => list?.resources.find((r) => r.kind === kind && !r.name.includes('/'));
    // A kind missing from the cached list may be new (a CRD installed since): ask once more.
    const found = find(await this.list(apiVersion, false)) ?? find(await this.list(apiVersion, true));
    if (!found) return undefined;
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    return { group, version, kind, plural: found.name, namespaced: found.namespaced };
  }
}
