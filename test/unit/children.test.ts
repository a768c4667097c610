// What kustomate reads from a child: its managedFields (drift), and its health (kstatus rules); no cluster.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/api.ts';
import { Operator } from '../../src/operator/operator.ts';
import { driftOf, describeDrift, ownedBy } from '../../src/reconcile/children.ts';
import { ownerKey } from '../../src/runtime/controller.ts';
import { healthOf } from '../../src/operator/health.ts';
import { entryOf } from '../../src/reconcile/inventory.ts';
import { changedBy, fieldPaths, ownFieldsDigest } from '../../src/reconcile/managed-fields.ts';

const ours = { manager: 'kustomate', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:replicas': {}, 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {} } } } } } } };
const status = { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': { 'f:replicas': {} } } };
const deploy = (managedFields: object[], extra: Partial<KubeObject> = {}): KubeObject =>
  ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'demo', managedFields }, ...extra }) as KubeObject;

describe('managedFields', () => {
  it('names fields as a person would, keys of list items included', () => {
    expect(fieldPaths(ours.fieldsV1).sort()).toEqual(['spec.replicas', 'spec.template.spec.containers[name=web].image']);
  });

  it('notices that a field kustomate set moved to another manager, and says who took it', () => {
    const applied = deploy([ours, status]);
    const scaled = deploy([
      { ...ours, fieldsV1: { 'f:spec': { 'f:template': ours.fieldsV1['f:spec']['f:template'] } } },
      { manager: 'kubectl', operation: 'Update', subresource: 'scale', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
      status,
    ]);
    expect(ownFieldsDigest(scaled)).not.toBe(ownFieldsDigest(applied));
    expect(changedBy(scaled)).toEqual([{ manager: 'kubectl (scale)', fields: ['spec.replicas'] }]);
    const drift = driftOf(entryOf(applied), scaled)!;
    expect(describeDrift(drift)).toBe('Deployment demo/web: spec.replicas changed by kubectl (scale)');
  });

  it('sees no drift when only controllers reported status, or the keys came back in another order', () => {
    const applied = deploy([ours]);
    const reversed = (v: unknown): unknown =>
      v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversed(x)])) : v;
    const later = deploy([{ ...ours, fieldsV1: reversed(ours.fieldsV1) }, status]);
    expect(JSON.stringify(reversed(ours.fieldsV1))).not.toBe(JSON.stringify(ours.fieldsV1));
    expect(driftOf(entryOf(applied), later)).toBeUndefined();
    expect(describeDrift(driftOf(entryOf(applied), undefined)!)).toBe('Deployment demo/web was deleted');
  });

  it('wakes the owner a child names in its controller ownerReference, and no other', () => {
    const op = new Operator({ name: 'sample', resource: { group: 'nuvolaris.org', version: 'v1', plural: 'samples', kind: 'Sample' } });
    const child = (ref: Record<string, unknown>) => deploy([], { metadata: { name: 'web', namespace: 'demo', ownerReferences: [ref] } });
    expect(ownerKey(op, child({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name: 'obj', uid: 'u1', controller: true }))).toBe(JSON.stringify(['sample', 'demo', 'obj', 'u1']));
    expect(ownerKey(op, child({ apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name: 'obj', uid: 'u1' }))).toBeUndefined();
    expect(ownerKey(op, child({ apiVersion: 'zalando.org/v1', kind: 'Database', name: 'obj', uid: 'u1', controller: true }))).toBeUndefined();
  });

  it('wakes the owner a retained child (no ownerReference) names in its instance label and owner-uid annotation', () => {
    const op = new Operator({ name: 'sample', resource: { group: 'nuvolaris.org', version: 'v1', plural: 'samples', kind: 'Sample' } });
    const retained = (labels: Record<string, string>, annotations: Record<string, string>) => deploy([], { metadata: { name: 'backup', namespace: 'demo', labels, annotations } });
    expect(ownerKey(op, retained({ 'app.kubernetes.io/instance': 'obj' }, { 'kustomate.io/owner-uid': 'u1' }))).toBe(JSON.stringify(['sample', 'demo', 'obj', 'u1']));
    expect(ownerKey(op, retained({ 'app.kubernetes.io/instance': 'obj' }, {}))).toBeUndefined();
    expect(ownerKey(op, retained({}, { 'kustomate.io/owner-uid': 'u1' }))).toBeUndefined();
  });

  it('tells its own children from foreign objects by owner label and ownerReference (owner-uid annotation when cluster-scoped)', () => {
    const clusterScoped = (annotations: Record<string, string>) =>
      ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n', labels: { 'kustomate.io/owner': 'sample.nuvolaris.org.obj' }, annotations } }) as KubeObject;
    const who = { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name: 'obj', uid: 'u1' };
    expect(ownedBy(clusterScoped({ 'kustomate.io/owner-uid': 'u1' }), who)).toBe(true);
    expect(ownedBy(clusterScoped({ 'kustomate.io/owner-uid': 'u2' }), who)).toBe(false);
    const owner = { apiVersion: 'nuvolaris.org/v1', kind: 'Sample', name: 'obj', uid: 'u1' };
    const labels = { 'kustomate.io/owner': 'sample.nuvolaris.org.obj' };
    expect(ownedBy(deploy([], { metadata: { name: 'web', namespace: 'demo', labels, ownerReferences: [{ uid: 'u1' }] } }), owner)).toBe(true);
    expect(ownedBy(deploy([], { metadata: { name: 'web', namespace: 'demo', labels } }), owner)).toBe(false);
    expect(ownedBy(deploy([], { metadata: { name: 'web', namespace: 'demo', ownerReferences: [{ uid: 'u1' }] } }), owner)).toBe(false);
  });
});

describe('health, by kstatus rules', () => {
  const d = (spec: object, st: object, generation = 2) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', generation }, spec, status: st }) as KubeObject;

  it('calls a Deployment healthy only when its rollout is observed, updated and available', () => {
    expect(healthOf(d({ replicas: 2 }, { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 2, replicas: 2 }))).toMatchObject({ healthy: false, message: 'rollout not observed yet' });
    expect(healthOf(d({ replicas: 2 }, { observedGeneration: 2, updatedReplicas: 1, availableReplicas: 2, replicas: 2 })).healthy).toBe(false);
    expect(healthOf(d({ replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2, replicas: 3 })).message).toBe('1 old replicas still running');
    const unavailable = d({ replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 0, replicas: 2, conditions: [{ type: 'Available', status: 'False', message: 'Deployment does not have minimum availability.' }] });
    expect(healthOf(unavailable)).toEqual({ healthy: false, message: '0 of 2 replicas available: Deployment does not have minimum availability.' });
    expect(healthOf(d({ replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 1, replicas: 2 })).message).toBe('1 of 2 replicas ready');
    expect(healthOf(d({ replicas: 2 }, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2, replicas: 2 })).healthy).toBe(true);
    const deadline = [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'timed out' }];
    expect(healthOf(d({}, { observedGeneration: 2, conditions: deadline }))).toMatchObject({ healthy: false, failed: true });
    // A stuck rollout just fixed: the old condition says nothing about the new generation yet.
    expect(healthOf(d({}, { observedGeneration: 1, conditions: deadline }))).toEqual({ healthy: false, message: 'rollout not observed yet' });
  });

  it('wants a Pod Ready, a Job Complete (a failed one fails at once), a PVC Bound; a Service or a ConfigMap only exists', () => {
    const o = (kind: string, apiVersion: string, st: object) => ({ apiVersion, kind, metadata: { name: 'x' }, status: st }) as KubeObject;
    expect(healthOf(o('Pod', 'v1', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] })).healthy).toBe(true);
    expect(healthOf(o('Pod', 'v1', { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', message: '0/3 nodes are available' }] })).message).toBe('Pending, not ready: 0/3 nodes are available');
    expect(healthOf(o('Job', 'batch/v1', { conditions: [{ type: 'Complete', status: 'True' }] })).healthy).toBe(true);
    expect(healthOf(o('Job', 'batch/v1', { conditions: [{ type: 'Failed', status: 'True', message: 'BackoffLimitExceeded' }] }))).toMatchObject({ healthy: false, failed: true });
    expect(healthOf(o('PersistentVolumeClaim', 'v1', { phase: 'Pending' })).healthy).toBe(false);
    expect(healthOf(o('PersistentVolumeClaim', 'v1', { phase: 'Bound' })).healthy).toBe(true);
    expect(healthOf(o('Service', 'v1', {})).healthy).toBe(true);
    expect(healthOf(o('ConfigMap', 'v1', {})).healthy).toBe(true);
  });

  it("lets an operator's own rule judge a kind, falling back to the built-in one when it says nothing", () => {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'x' }, status: {} } as KubeObject;
    expect(healthOf(job, { 'batch/Job': () => ({ healthy: true, message: 'good enough' }) })).toEqual({ healthy: true, message: 'good enough' });
    expect(healthOf(job, { Job: () => undefined }).message).toBe('running');
  });
});
