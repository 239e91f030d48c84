import { Injectable, NestMiddleware } from '@nestjs/common';
import { json } from 'express';
import type { NextFunction, Request, Response } from 'express';

const parse = json({ limit: '64kb', strict: true });

/**
 * JSON body parsing as a Nest middleware, so a malformed or oversized body is thrown into the
 * exception filter (a clean 400/413) instead of reaching Express's HTML error page.
 */
@Injectable()
export class JsonBodyMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): Promise<void> {
    return new Promise((resolve, reject) =>
      parse(req, res, (err?: unknown) => {
        if (err) return reject(err);
        resolve();
        next();
      }),
    );
  }
}
