//! The live blog, rendered on the server with its posts in it, then live in the browser: posts
//! appear, change and disappear as they are published, and view counts tick.

use std::collections::BTreeMap;

use demo_events::{Post, PostDeleted, PostUpdated, Views};
use leptos::prelude::*;
use tidings::use_sse;

/// The blog's stream, as its components name it.
pub const BLOG: &str = "/api/blog";

/// The posts the page shows, by ID.
type Posts = BTreeMap<u64, Post>;

fn by_id(posts: Vec<Post>) -> Posts {
    posts.into_iter().map(|post| (post.id, post)).collect()
}

/// The blog's posts now: on the server, from the blog the request's context holds; in the
/// browser, `None` (the page then loads them).
fn posts_on_the_server() -> Option<Vec<Post>> {
    #[cfg(feature = "ssr")]
    {
        use_context::<demo_server::blog::Blog>().map(|blog| blog.posts())
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// Every post, from the demo's API.
#[cfg(feature = "hydrate")]
async fn fetch_posts() -> Result<Vec<Post>, String> {
    let response = gloo_net::http::Request::get("/api/blog/posts")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}

/// The live blog.
#[component]
pub fn BlogPage() -> impl IntoView {
    // The stream first: on the server that reads the position the browser resumes from, before
    // the posts are read below, so every change made after it is replayed. Replays are
    // harmless: each event carries whole values (the post, the view count), not increments.
    let sse = use_sse(BLOG);
    // The posts as the server rendered them, carried to the browser in the page.
    let rendered = SharedValue::new(posts_on_the_server).into_inner();
    let posts = RwSignal::new(by_id(rendered.clone().unwrap_or_default()));
    // Loads the posts afresh: when the page was not rendered with them (reached by navigating
    // in the browser), and whenever the server could not resume the stream (a resync).
    let reload = move || {
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(async move {
            match fetch_posts().await {
                Ok(all) => posts.set(by_id(all)),
                Err(error) => leptos::logging::warn!("cannot load the posts: {error}"),
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = posts;
    };
    if rendered.is_none() {
        Effect::new(move |_| reload());
    }
    sse.on_resync(move |_| reload());
    sse.on::<Post>(move |post| posts.update(|all| drop(all.insert(post.id, post))));
    sse.on::<PostUpdated>(move |update| {
        posts.update(|all| drop(all.insert(update.post.id, update.post)));
    });
    sse.on::<PostDeleted>(move |gone| posts.update(|all| drop(all.remove(&gone.id))));
    sse.on::<Views>(move |views| {
        posts.update(|all| {
            if let Some(post) = all.get_mut(&views.id) {
                post.views = views.views;
            }
        });
    });
    view! {
        <section class="panel">
            <h2>"Live blog"</h2>
            <tidings::ConnectionBadge sse=sse/>
            <div class="posts" data-testid="posts">
                {move || {
                    let all = posts.get();
                    if all.is_empty() {
                        return view! { <p class="meta">"No posts yet."</p> }.into_any();
                    }
                    all.into_values()
                        .rev()
                        .map(|post| view! {
                            <article class="post" data-testid="post">
                                <h3 data-testid="post-title">{post.title}</h3>
                                <p>{post.body}</p>
                                <p class="meta"><span data-testid="views">{post.views}</span>" views"</p>
                            </article>
                        })
                        .collect_view()
                        .into_any()
                }}
            </div>
        </section>
    }
}
