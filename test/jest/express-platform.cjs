// setupFiles of jest's `express` project: the suite builds its apps on Express.
process.env.HTTP_PLATFORM = 'express';
