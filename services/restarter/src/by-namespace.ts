// Settings given for every namespace and, over that, per namespace (DELAY and DELAY_NAMESPACES).
/** A setting for every namespace, and its value per namespace over it. */
export interface ByNamespace<T> {
  readonly all: T;
  readonly namespaces: Readonly<Record<string, T>>;
}

/** The value of `setting` in `namespace` (undefined without the setting). */
export function inNamespace<T>(
  setting: ByNamespace<T> | undefined,
  namespace: string,
): T | undefined {
  return setting === undefined ? undefined : (setting.namespaces[namespace] ?? setting.all);
}
