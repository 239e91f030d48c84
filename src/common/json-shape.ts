import { BadRequestException } from '@nestjs/common';

export interface JsonShapeLimits {
  /** Deepest nesting of arrays and objects. Default 32. */
  maxDepth: number;
  /** Most array elements plus object keys in the whole document. Default 1,000. */
  maxEntries: number;
}

export const DEFAULT_JSON_SHAPE_LIMITS: JsonShapeLimits = { maxDepth: 32, maxEntries: 1_000 };

/** A JSON body nested deeper, or holding more entries, than the service accepts. */
export class JsonBodyTooComplexError extends BadRequestException {
  constructor(message: string) {
    super({ statusCode: 400, error: 'Bad Request', message });
    this.name = 'JsonBodyTooComplexError';
  }
}

const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Checks the raw bytes of a JSON document against `limits` in one pass without recursion, before
 * anything parses it: `JSON.parse` copes with deep nesting, but class-transformer and the validator
 * recurse and overflow the stack. Counts entries as the commas outside strings plus one per
 * non-empty container. Malformed JSON is left for the parser to refuse. Throws
 * JsonBodyTooComplexError (400).
 */
export function assertJsonShape(body: Buffer, limits: JsonShapeLimits = DEFAULT_JSON_SHAPE_LIMITS): void {
  let depth = 0;
  let entries = 0;
  let inString = false;
  let justOpened = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    if (justOpened && c !== CLOSE_BRACKET && c !== CLOSE_BRACE) entries++;
    justOpened = false;
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACKET || c === OPEN_BRACE) {
      if (++depth > limits.maxDepth) {
        throw new JsonBodyTooComplexError(
          `The request body is nested too deeply: at most ${limits.maxDepth} levels of arrays and objects.`,
        );
      }
      justOpened = true;
    } else if (c === CLOSE_BRACKET || c === CLOSE_BRACE) depth--;
    else if (c === COMMA) entries++;
    if (entries > limits.maxEntries) {
      throw new JsonBodyTooComplexError(
        `The request body holds too many values: at most ${limits.maxEntries} array elements and object keys in all.`,
      );
    }
  }
}
