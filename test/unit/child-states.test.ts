import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../src/kube/api.ts';
import { CHILDREN_REMEMBERED, ChildStates, DELIVERED_REMEMBERED, keyOfChild } from '../../src/reconcile/child-states.ts';

const at = (rv: string, name = 'web', apiVersion = 'apps/v1'): KubeObject => ({ apiVersion, kind: 'Deployment', metadata: { name, namespace: 'ns', resourceVersion: rv } });

describe('ChildStates: which child states a watch brought may stand for a read', () => {
  it('trusts a state brought at or after the one a reconcile saw, whichever came first', () => {
    const states = new ChildStates();
    // The watch brings the apply's own state and two more before the apply's answer is read.
    states.observe('ADDED', at('10'));
    states.observe('MODIFIED', at('11'));
    states.observe('MODIFIED', at('12'));
    states.saw(at('10'));
    expect(states.current(at('12'))).toBe(true);
    expect(states.current(at('10'))).toBe(true);
    // The answer read before the watch brings it: trusted once it does.
    states.saw(at('13'));
    expect(states.current(at('12'))).toBe(false);
    states.observe('MODIFIED', at('13'));
    states.observe('MODIFIED', at('14'));
    expect(states.current(at('14'))).toBe(true);
  });

  it('does not trust a state brought before the one a reconcile saw, nor any state of a child no reconcile saw', () => {
    const states = new ChildStates();
    states.observe('MODIFIED', at('7'));
    expect(states.current(at('7')), 'no reconcile saw it').toBe(false);
    // A reconcile read 9; the watch, lagging, brings 8 only now.
    states.saw(at('9'));
    states.observe('MODIFIED', at('8'));
    expect(states.current(at('8'))).toBe(false);
    states.observe('MODIFIED', at('9'));
    expect(states.current(at('8')), 'brought before the state seen').toBe(false);
    expect(states.current(at('9'))).toBe(true);
  });

  it("keeps each API version's states apart: two watches of one kind at two versions interleave in no order", () => {
    const states = new ChildStates();
    // The apply left 12 (at v2); the v2 watch brings 10 to 13, the lagging v2beta2 watch only 10 so far.
    const hpa = (rv: string, apiVersion: string) => ({ ...at(rv, 'web', apiVersion), kind: 'HorizontalPodAutoscaler' });
    states.saw(hpa('12', 'autoscaling/v2'));
    for (const rv of ['10', '11', '12', '13']) states.observe('MODIFIED', hpa(rv, 'autoscaling/v2'));
    states.observe('MODIFIED', hpa('10', 'autoscaling/v2beta2'));
    expect(states.current(hpa('10', 'autoscaling/v2beta2')), 'a state from before the apply').toBe(false);
    expect(states.current(hpa('13', 'autoscaling/v2'))).toBe(true);
    expect(states.current(at('13', 'api'))).toBe(false);
    // ChildView knows a child by its identity, whatever the version.
    expect(keyOfChild(at('5', 'web', 'apps/v1'))).toBe(keyOfChild(at('6', 'web', 'apps/v1beta2')));
  });

  it(`remembers at most ${CHILDREN_REMEMBERED} children, the least recently seen forgotten first`, () => {
    const states = new ChildStates();
    for (let i = 0; i <= CHILDREN_REMEMBERED; i++) {
      states.observe('ADDED', at('1', `c-${i}`));
      states.saw(at('1', `c-${i}`));
    }
    expect(states.current(at('1', 'c-0')), 'forgotten: read again').toBe(false);
    expect(states.current(at('1', `c-${CHILDREN_REMEMBERED}`))).toBe(true);
  });

  it('forgets a child at its deletion (or once it no longer matches the watch): it is read again', () => {
    const states = new ChildStates();
    states.observe('ADDED', at('5'));
    states.saw(at('5'));
    expect(states.current(at('5'))).toBe(true);
    states.observe('DELETED', at('6'));
    expect(states.current(at('5'))).toBe(false);
    states.observe('ADDED', at('7'));
    expect(states.current(at('7'))).toBe(false);
  });

  it(`remembers ${DELIVERED_REMEMBERED} states per child: the state seen, once further back, is not trusted`, () => {
    const states = new ChildStates();
    states.observe('ADDED', at('100'));
    states.saw(at('100'));
    for (let i = 1; i < DELIVERED_REMEMBERED; i++) states.observe('MODIFIED', at(String(100 + i)));
    expect(states.current(at(String(100 + DELIVERED_REMEMBERED - 1)))).toBe(true);
    states.observe('MODIFIED', at('999'));
    expect(states.current(at('999'))).toBe(false);
  });
});
