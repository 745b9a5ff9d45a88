import { setupPidRegistry } from '@onpush/testing';

export default function setup(): () => void {
  return setupPidRegistry();
}
