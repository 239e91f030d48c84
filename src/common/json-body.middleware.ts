import { Injectable, NestMiddleware } from '@nestjs/common';
import { json } from 'express';
import type { NextFunction, Request, Response } from 'express';
import { JSON_BODY_LIMIT_BYTES } from './json-body';
import { assertJsonShape, DEFAULT_JSON_SHAPE_LIMITS } from './json-shape';

/**
 * JSON body parsing on Express (on Fastify, `readJsonBody` as its content-type parser, with the
 * same limits and errors), as a Nest middleware, so a malformed or oversized body is thrown into the
 * exception filter (a clean 400/413) instead of reaching Express's HTML error page. Limits: 64 kB,
 * and (checked on the raw bytes before parsing, so before any ValidationPipe or class-transformer
 * sees the body) at most 32 levels of nesting and 1,000 array elements and object keys: a deeper or
 * larger body is 400 (JsonBodyTooComplexError), never a stack overflow.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  private readonly parse = json({
    limit: JSON_BODY_LIMIT_BYTES,
    strict: true,
    verify: (_req, _res, body) => assertJsonShape(body, DEFAULT_JSON_SHAPE_LIMITS),
  });

  use(req: Request, res: Response, next: NextFunction): Promise<void> {
    return new Promise((resolve, reject) =>
      this.parse(req, res, (err?: unknown) => {
        if (err) return reject(err);
        resolve();
        next();
      }),
    );
  }
}
