// Command vigil-alexa-lambda is the thin AWS Lambda an Alexa smart home
// skill must call: it forwards each directive, unchanged, to a Vigil
// server's POST /alexa/directive with the access token found inside the
// directive as the bearer and the deployment's secret header, and returns
// Vigil's event. Vigil authorizes every directive by the token inside it
// and trusts nothing this proxy says; the proxy only carries.
//
// Environment: VIGIL_DIRECTIVE_URL (https://vigil.example.com/alexa/directive)
// and VIGIL_PROXY_SECRET (the alexa_proxy_secret Vigil is configured with);
// AWS_REGION, set by Lambda, names the skill region sent with each directive.
// It logs no tokens. docs/alexa.md explains deploying it.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	p, err := newProxy(os.Getenv("VIGIL_DIRECTIVE_URL"), os.Getenv("VIGIL_PROXY_SECRET"), os.Getenv("AWS_REGION"), slog.New(slog.NewJSONHandler(os.Stderr, nil)))
	if err != nil {
		slog.Error("vigil-alexa-lambda: bad configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(p.handle)
}
