// Small pieces the views share.
import type { ComponentChildren } from 'preact';

const GOOD = new Set(['restarted', 'dispatched', 'rollout-completed', 'would-restart']);
const BAD = new Set([
  'dead',
  'rollout-failed',
  'rolled-back',
  'refused',
  'halted',
  'rejected',
  'expired',
]);

export function Fate({ fate }: { fate: string }) {
  const tone = GOOD.has(fate) ? 'good' : BAD.has(fate) ? 'bad' : 'plain';
  return (
    <span class={`fate ${tone}`} data-fate={fate}>
      {fate}
    </span>
  );
}

export function Link(props: { href: string; children: ComponentChildren }) {
  return (
    <a href={props.href} onClick={(e) => e.stopPropagation()}>
      {props.children}
    </a>
  );
}

/** An in-page confirmation: what will happen, and two buttons. */
export function Confirm(props: { text: string; onYes: () => void; onNo: () => void }) {
  return (
    <div class="confirm" role="dialog" aria-modal="true" data-testid="confirm">
      <div class="box">
        <p>{props.text}</p>
        <button class="danger" onClick={props.onYes}>
          Confirm
        </button>{' '}
        <button onClick={props.onNo}>Cancel</button>
      </div>
    </div>
  );
}
