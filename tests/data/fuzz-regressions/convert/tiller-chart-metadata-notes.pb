
blog2
µ¸ÌÚž™¸†µ¸ÌÚž™¸†*Install complete«9
¸
ghosthttps://ghost.org/de/https://hub.docker.com/_/ghost/!https://github.com/TryGhost/Ghost"1.24.8*ÜGhost is a free and open source blogging platform written in JavaScript and distributed under the MIT License, designed to simplify the process of online publishing for individual bloggers as well as online publications.:,
Fabian MÃ¼llerfabian.mueller@example.comJ?http://www.juliosblog.com/content/images/2016/12/Ghost_icon.png
templates/NOTES.txt˜
templates/_helpers.tplý{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "ghost.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}
†
templates/ghost_ingress.yamlåapiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}

spec:
  rules:
  - host: "{{ .Values.ghost.ingressUrl }}.{{ .Values.global.domain }}"
    http:
      paths:
      - backend:
          serviceName: {{ .Release.Name }}
          servicePort: {{ .Values.ghost.statefulset.ports.port }}
ò
templates/ghost_service.yamlÑapiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}

  labels:
    app: {{ template "ghost.fullname" . }}
    heritage: {{ .Release.Service }}
    release: {{ .Release.Name }}
    chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"
    component: {{ .Values.ghost.statefulset.labels.component }}

spec:
  selector:
    app: {{ template "ghost.fullname" . }}
    component: {{ .Values.ghost.statefulset.labels.component }}

  ports:
    - name: {{ .Values.ghost.statefulset.ports.name }}
      port: {{ .Values.ghost.statefulset.ports.port }}
      protocol: {{ .Values.ghost.statefulset.ports.protocol }}
      targetPort: {{ .Values.ghost.statefulset.ports.targetPort }}
¹
 templates/ghost_statefulset.yaml”apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}

  labels:
    app: {{ template "ghost.fullname" . }}
    heritage: {{ .Release.Service }}
    release: {{ .Release.Name }}
    chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"
    component: "{{ .Values.ghost.statefulset.labels.component }}"

spec:
  serviceName: {{ .Release.Name }}
  replicas: {{ .Values.ghost.statefulset.replicas }}

  selector:
    matchLabels:
      app: {{ template "ghost.fullname" . }}
      component: {{ .Values.ghost.statefulset.labels.component }}

  template:
    metadata:
      labels:
        app: {{ template "ghost.fullname" . }}
        heritage: {{ .Release.Service }}
        release: {{ .Release.Name }}
        chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"
        component: {{ .Values.ghost.statefulset.labels.component }}

    spec:
      containers:
      - name: {{ .Values.ghost.statefulset.dockerImage }}

        image: "{{ .Values.ghost.statefulset.dockerImage }}:{{ .Values.ghost.statefulset.dockerTag }}"
        imagePullPolicy: "{{ .Values.global.imagePullPolicy }}"

        readinessProbe:
          httpGet:
            path: /
            port: {{ .Values.ghost.statefulset.ports.port }}
          initialDelaySeconds: {{ .Values.ghost.statefulset.readiness.initialDelaySeconds }}
          timeoutSeconds: {{ .Values.ghost.statefulset.readiness.timeoutSeconds }}

        livenessProbe:
          httpGet:
            path: /
            port: {{ .Values.ghost.statefulset.ports.port }}
          initialDelaySeconds: {{ .Values.ghost.statefulset.liveness.initialDelaySeconds }}
          periodSeconds: {{ .Values.ghost.statefulset.liveness.periodSeconds }}
          timeoutSeconds: {{ .Values.ghost.statefulset.liveness.timeoutSeconds }}

        resources:
          requests:
            cpu: {{ .Values.ghost.statefulset.resources.requests.cpu }}
            memory: {{ .Values.ghost.statefulset.resources.requests.mem }}
          limits:
            cpu: {{ .Values.ghost.statefulset.resources.limits.cpu }}
            memory: {{ .Values.ghost.statefulset.resources.limits.mem }}

        ports:
        - name: {{ .Values.ghost.statefulset.ports.name }}
          protocol: {{ .Values.ghost.statefulset.ports.protocol }}
          containerPort: {{ .Values.ghost.statefulset.ports.port }}

        volumeMounts:
        - mountPath: /var/lib/ghost/content
          name: content

  volumeClaimTemplates:
  - metadata:
      name: content
      namespace: {{ .Release.Namespace }}
    spec:
      accessModes: [ "ReadWriteOnce" ]
      storageClassName: standard
      resources:
        requests:
          storage: 500Mi
"ô
ñ# This is a YAML-formatted file.
# Declare variables to be passed into your template.

# Global var section
global:
  imagePullPolicy: "Always"                         # The Kubernetes image pull policy
  domain: "example"                                 # The domain to use
  timezone: "Europe/Berlin"                         # The default timezone

# Ghost section
ghost:

  # general section
  ingressUrl: "myawesomeblog"                       # The Ingress URL to use

  # statefulset section
  statefulset:
    replicas: 1      z                              # The number of replicas when deployed
    dockerImage: "ghost"                            # The docker image to use
    dockerTag: "1.24.8-alpine"                      # The docker tags to use

    # Label section
    labels:
      component: "frontend"                         # The component label to use

    # Resource section
    resources:
      requests:
        mem: "200Mi"                                # The initial amount of memory ghost requests
        cpu: "200m"                                 # The initial amount of cpu ghost requests
      limits:
        mem: "200Mi"                                # The maximum amount of memory ghost can consume before it will get killed
        cpu: "200m"                                 # The maximum amount of cpu ghost can consume

    # Readiness probe
    readiness:
      initialDelaySeconds: 30                       # The initial delay before the readiness probe starts
      timeoutSeconds: 5                             # The timeout for the readiness probe

    # Liveness probe
    liveness:
      initialDelaySeconds: 30                       # The initial delay after the readiness probe has finished
      timeoutSeconds: 5            $                # The timeout for liveness probe
      periodSeconds: 10                            T # he inter	al in which the liveness probe should be executed

    # Port section
    ports:
      name: web                                     # The name of the port
      protocol: TCP                                 # The protocol to use
      port: 2368                                    # The port number to use
      targetPort: 2368                              # The target port for the service object
*
	README.md"
{}
*¬
---
# Source: ghost/templates/ghost_service.yaml
apiVersion: v1
kind: Service
metadata:
  name: blog
  namespace: tools

  labels:
    app: blog-ghost
    heritage: Tiller
    release: blog
    chart: "ghost-1.24.8"
    component: frontend

spec:
  selector:
    app: blog-ghost
    component: frontend

  ports:
    - name: web
      port: 2368
      protocol: TCP
      targetPort: 2368
---
# Source: ghost/templates/ghost_statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: blog
  namespace: tools

  labels:
    app: blog-ghost
    heritage: Tiller
    release: blog
    chart: "ghost-1.24.8"
    component: "frontend"

spec:
  serviceName: blog
  replicas: 1

  selector:
    matchLabels:
      app: blog-ghost
      component: frontend

  template:
    metadata:
      labels:
        app: blog-ghost
        heritage: Tiller
        release: blog
        chart: "ghost-1.24.8"
        component: frontend

    spec:
      containers:
      - name: ghost

        image: "ghost:1.24.8-alpine"
        imagePullPolicy: "Always"

        readinessProbe:
          httpGet:
            path: /
            port: 2368
          initialDelaySeconds: 30
          timeoutSeconds: 5

        livenessProbe:
          httpGet:
            path: /
            port: 2368
          initialDelaySeconds: 30
          periodSeconds: 10
          timeoutSeconds: 5

        resources:
          requests:
            cpu: 200m
            memory: 200Mi
          limits:
            cpu: 200m
            memory: 200Mi

        ports:
        - name: web
          protocol: TCP
          containerPort: 2368

        volumeMounts:
        - mountPath: /var/lib/ghost/content
          name: content

  volumeClaimTemplates:
  - metadata:
      name: content
      namespace: tools
    spec:
      accessModes: [ "ReadWriteOnce" ]
      storageClassName: standard
      resources:
        requests:
          storage: 500Mi
---
# Source: ghost/templates/ghost_ingress.yaml
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: blog
  namespace: tools

spec:
  rules:
  - host: "myawesomeblog.example"
    http:
      paths:
      - backend:
          serviceName: blog
          servicePort: 23688Btools