export { createHandler } from './handler.js';
export { ParseError, type ParseErrorType } from './errors.js';
export { FORMATS, type Format, type FormatResult, type Push } from './formats/index.js';
