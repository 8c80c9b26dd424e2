"""The environment's HTTP endpoint: an AWS Lambda function behind an API Gateway HTTP API
(IAM authorization), created by terraform/modules/http_api.

* ``handler``: the function's entry point (``flowlib.http_api.handler.handler``), an entry
  point like the command line: it reads the request, starts a deployed flow through the same
  ``Deployer.trigger`` as ``step-functions trigger``, and reads run status through the client.

Routes (API Gateway matches them and hands over ``routeKey`` and ``pathParameters`` in the
payload format 2.0, plain JSON, so no HTTP parsing happens here):

* ``POST /flows/{flow}/runs`` with ``{"parameters": {...}, "branch": "..."}`` -> 202
* ``GET /flows/{flow}/runs/{id}`` -> 200

Every error is a JSON object with one ``message``.
"""
