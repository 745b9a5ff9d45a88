import { baseServiceSchema } from '@onpush/service';
import { port } from '@onpush/config';

export const parserSchema = baseServiceSchema.extend({
  PORT: port({ allowZero: true }).default(8082),
});
