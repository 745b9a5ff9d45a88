// The environment variables that set which workloads onpush may touch: read alike by the resolver
// (what it selects) and the restarter (what it agrees to patch). docs/workloads.md describes them.
import { z } from 'zod';
import { enumOf, list } from '@onpush/config';
import { parseSelector, type Scope } from './selection.js';

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const namespaces = () =>
  list(z.string().regex(DNS_LABEL, { error: 'must list Kubernetes namespaces (DNS labels)' }));

const isSelector = (text: string): boolean => {
  try {
    parseSelector(text);
    return true;
  } catch {
    return false;
  }
};

/** ONPUSH_SELECT, ONPUSH_OPT_IN, ONPUSH_NAMESPACES, ONPUSH_EXCLUDE_NAMESPACES, ONPUSH_SELECTOR. */
export const scopeFields = {
  /** `labelled`: workloads that opted in (ONPUSH_OPT_IN); `all`: every workload. */
  ONPUSH_SELECT: enumOf(['labelled', 'all']).default('labelled'),
  /** How a workload opts in: label `onpush.dev/enabled=true`, or that annotation. */
  ONPUSH_OPT_IN: enumOf(['label', 'annotation']).default('label'),
  /** Only these namespaces (one watch each, so a Role per namespace suffices); unset: all. */
  ONPUSH_NAMESPACES: namespaces().default([]),
  /** Never these namespaces. */
  ONPUSH_EXCLUDE_NAMESPACES: namespaces().default([]),
  /** A label selector every workload must also match, e.g. `team=web`. */
  ONPUSH_SELECTOR: z
    .string()
    .refine(isSelector, { error: 'must be a label selector such as team=web,tier notin (batch)' })
    .optional(),
};

/** The scope the five variables describe. */
export function scopeFromConfig(config: {
  ONPUSH_SELECT: Scope['select'];
  ONPUSH_OPT_IN: Scope['optIn'];
  ONPUSH_NAMESPACES: readonly string[];
  ONPUSH_EXCLUDE_NAMESPACES: readonly string[];
  ONPUSH_SELECTOR?: string | undefined;
}): Scope {
  return {
    select: config.ONPUSH_SELECT,
    optIn: config.ONPUSH_OPT_IN,
    namespaces: config.ONPUSH_NAMESPACES,
    exclude: config.ONPUSH_EXCLUDE_NAMESPACES,
    selector: config.ONPUSH_SELECTOR,
  };
}
