# Heed. `make run` starts it locally on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAGE ?= dev
DIST ?= dist

AWS ?= aws
STACK ?= heed-$(STAGE)
LINT_VENV ?= .venv-lint

# A stage's environment variable from .chalice/config.json, where stages are defined.
stage_env = $(shell $(PYTHON) -c 'import json; print(json.load(open(".chalice/config.json"))["stages"].get("$(STAGE)", {}).get("environment_variables", {}).get("$(1)", ""))')

.PHONY: venv run test unit bench reliability lint package deploy terraform clean check-templates sim sim-sent sim-reset sim-email replay-inbound-mail report

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) -m local.stack

# With `make run` going: a signed customer webhook from the platform simulator's CLI
# (KIND: telegram messenger instagram whatsapp x-dm x-mention facebook-comment
# instagram-comment; `make sim-whatsapp MSG=...` works too), and what Heed sent back.
KIND ?= telegram
MSG ?= Where is my order?
CUSTOMER ?= Ana
sim: venv
	$(PY) -m local.simulator send $(KIND) "$(MSG)" --customer "$(CUSTOMER)"

# A customer's email to a conversation's reply address (from its handoff notice), stored in the
# local inbound bucket as SES would: `make sim-email TO=support+<token>@mail.heed.example MSG=...`.
sim-email: venv
	@test -n "$(TO)" || { echo "make sim-email needs TO=<the conversation's reply address>" >&2; exit 2; }
	$(PY) -m local.simulator email --to "$(TO)" "$(MSG)" $(if $(IN_REPLY_TO),--in-reply-to "$(IN_REPLY_TO)")

sim-sent: venv
	$(PY) -m local.simulator sent

sim-reset: venv
	$(PY) -m local.simulator reset

# With `make run` going: send the weekly report now (from HEED_EMAIL_FROM, default reports@heed.local, to
# HEED_REPORT_RECIPIENTS, default manager@heed.local) through the emulator's SES; ARGS=--dry-run prints it.
report: venv
	$(PY) -m local.report $(ARGS)

sim-%: venv
	$(PY) -m local.simulator send $* "$(MSG)" --customer "$(CUSTOMER)"

test: venv
	$(PY) -m ruff check .
	$(PY) -m pytest -q tests --ignore=tests/bench

unit: venv
	$(PY) -m pytest -q tests/unit

bench: venv
	$(PY) -m pytest -q -s tests/bench

# The promises under load, duplicates and faults (README: What Heed promises): one line
# per scenario, then the totals; exits 1 when a promise breaks. `make test` runs it short.
reliability: venv
	$(PY) -m tests.reliability

# Render every template in templates/ for every platform/channel it can be used on, with
# sample values (a very long name included); fails naming the template and the limit it
# breaks. tests/unit/test_templating.py runs the same check.
check-templates: venv
	$(PY) -m functions.templating --check

# checkov has its own venv: its pins clash with the dev tools' (boto3). Findings
# that don't apply are skipped in infra/template.yaml with the reason.
$(LINT_VENV)/.installed: requirements-lint.txt
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet -r requirements-lint.txt
	touch $@

LINT_POOL := arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_lintonly
lint: venv $(LINT_VENV)/.installed
	$(PY) -m ruff check .
	for stage in dev prod; do \
		$(MAKE) -s package STAGE=$$stage DIST=$(DIST)/lint HEED_STAFF_USER_POOL_ARN=$(LINT_POOL) >/dev/null && \
		$(VENV)/bin/cfn-lint $(DIST)/lint/$$stage/sam.yaml && \
		$(LINT_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
			-f $(DIST)/lint/$$stage/sam.yaml || exit 1; \
	done

# The Lambda zip must carry functions/ and templates/: Chalice packages only
# app.py, chalicelib/ and vendor/, and vendor/'s contents land at the zip root.
package: venv check-stage
	rm -rf vendor $(DIST)/$(STAGE)
	mkdir -p vendor $(DIST)
	cp -r functions templates vendor/
	find vendor -name __pycache__ -prune -exec rm -rf {} +
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template infra/template.yaml $(DIST)/$(STAGE)
	rm -rf vendor
	@$(PY) -c 'import sys, zipfile; p = sys.argv[1]; z = zipfile.ZipFile(p); import os; \
		print(f"{p}: {os.path.getsize(p) / 1e6:.2f} MB zipped, {sum(i.file_size for i in z.infolist()) / 1e6:.2f} MB unzipped, {len(z.infolist())} files (Lambda allows 50 MB zipped, 250 MB unzipped)")' \
		$(DIST)/$(STAGE)/deployment.zip

# A Cognito stage needs its user pool when packaging (the authorizer is in the template).
.PHONY: check-stage
check-stage: venv
	@$(PYTHON) -c 'import json, sys; sys.exit(0 if "$(STAGE)" in json.load(open(".chalice/config.json"))["stages"] else "no stage $(STAGE) in .chalice/config.json")'
	@if [ "$(call stage_env,HEED_STAFF_AUTH)" = cognito ] && [ -z "$$HEED_STAFF_USER_POOL_ARN" ]; then \
		echo "stage $(STAGE) uses HEED_STAFF_AUTH=cognito: set HEED_STAFF_USER_POOL_ARN=<the staff user pool's ARN>" >&2; exit 2; fi

# Package, upload the zip, deploy the stack. Needs the AWS CLI with credentials for the
# brand's account and ARTIFACT_BUCKET (an S3 bucket for the code zip and template).
# Stack parameters: Stage and SecretsPath from the stage's config; ALARM_EMAIL and
# PARAMS="SilenceHoursX=0 LogRetentionDays=30 ..." optional (unset ones keep their value).
deploy: package
	@command -v $(AWS) >/dev/null || { echo "make deploy needs the AWS CLI ($(AWS)); see README: Deploying" >&2; exit 2; }
	@test -n "$(ARTIFACT_BUCKET)" || { echo "make deploy needs ARTIFACT_BUCKET=<an S3 bucket in the stack's region>" >&2; exit 2; }
	$(AWS) cloudformation package --template-file $(DIST)/$(STAGE)/sam.yaml \
		--s3-bucket $(ARTIFACT_BUCKET) --s3-prefix heed/$(STAGE) --output-template-file $(DIST)/$(STAGE)/packaged.yaml
	$(AWS) cloudformation deploy --template-file $(DIST)/$(STAGE)/packaged.yaml --stack-name $(STACK) \
		--s3-bucket $(ARTIFACT_BUCKET) --s3-prefix heed/$(STAGE) --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
		--parameter-overrides Stage=$(call stage_env,HEED_STAGE) SecretsPath=$(call stage_env,HEED_SSM_PREFIX) \
			$(if $(ALARM_EMAIL),AlarmEmail=$(ALARM_EMAIL)) $(PARAMS)
	$(AWS) cloudformation describe-stacks --stack-name $(STACK) --query 'Stacks[0].Outputs' --output table

# Chalice's own resources (functions, API, schedule, stream mapping) as a Terraform
# module; what infra/ creates comes in as variables (README: Deploying with Terraform).
terraform: venv check-stage
	rm -rf vendor $(DIST)/terraform/$(STAGE)
	mkdir -p vendor $(DIST)/terraform
	cp -r functions templates vendor/
	find vendor -name __pycache__ -prune -exec rm -rf {} +
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --pkg-format terraform \
		--stage $(STAGE) $(DIST)/terraform/$(STAGE)
	rm -rf vendor
	$(PY) infra/terraform.py $(DIST)/terraform/$(STAGE)/chalice.tf.json

# Inbound mail that failed after Lambda's retries waits in the stack's InboundMailFailures queue
# (output InboundMailFailuresQueueUrl); this hands it back: to the function (FUNCTION=heed-prod-HandleInboundEmail,
# with the AWS CLI's credentials) or, without FUNCTION, to the handler in this process (the local stack).
replay-inbound-mail: venv
	@test -n "$(QUEUE_URL)" || { echo "make replay-inbound-mail needs QUEUE_URL=<InboundMailFailuresQueueUrl>" >&2; exit 2; }
	$(PY) -m functions.inbound_mail replay --queue-url "$(QUEUE_URL)" $(if $(FUNCTION),--function "$(FUNCTION)")

clean:
	rm -rf vendor dist .pytest_cache $(LINT_VENV)
