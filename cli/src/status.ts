// `onpush status`: the collection is shared with the console's health view (@onpush/console);
// the tables it prints are status-format.ts.
export {
  gatherStatus,
  serviceUrls,
  leafState,
  type ServiceHealth,
  type ConsumerLag,
  type StatusReport,
  type StatusOptions,
} from '@onpush/console';
